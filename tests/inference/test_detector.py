"""ONNX person detectors: letterbox pre-processing and end2end / raw-YOLOX post-processing on tiny models."""
from __future__ import annotations

import numpy as np
import pytest

from simplepose.errors import DataError
from simplepose.inference.detector import OnnxPersonDetector, letterbox

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SIZE = 64                                               # model input 64 x 64


def _const_model(path, outputs: list[np.ndarray]) -> str:
    """An ONNX model with input (1, 3, 64, 64) whose outputs are the given constants (plus 0 x input)."""
    nodes = [helper.make_node("ReduceMin", ["input"], ["m"], keepdims=0),
             helper.make_node("Mul", ["m", "zero"], ["z"])]
    inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    outs = []
    for i, value in enumerate(outputs):
        inits.append(numpy_helper.from_array(value.astype(np.float32), f"c{i}"))
        nodes.append(helper.make_node("Add", [f"c{i}", "z"], [f"out{i}"]))
        outs.append(helper.make_tensor_value_info(f"out{i}", TensorProto.FLOAT, list(value.shape)))
    graph = helper.make_graph(nodes, "const", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                            [1, 3, SIZE, SIZE])], outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return str(path)


def test_letterbox_pastes_top_left_on_114():
    image = np.zeros((50, 100, 3), np.uint8)
    image[:] = (10, 20, 30)
    tensor, ratio = letterbox(image, (SIZE, SIZE))
    assert ratio == pytest.approx(0.64) and tensor.shape == (1, 3, SIZE, SIZE) and tensor.dtype == np.float32
    assert (tensor[0, :, :32, :64] == np.array([10, 20, 30], np.float32)[:, None, None]).all()   # BGR kept
    assert (tensor[0, :, 32:] == 114).all()


def test_end2end_rows_are_scaled_back_and_thresholded(tmp_path):
    dets = np.array([[[6.4, 3.2, 32.0, 16.0, 0.9], [0, 0, 10, 10, 0.2], [1, 1, 20, 20, 0.5]]])
    labels = np.array([[0, 0, 1]])                                   # the third is not a person
    det = OnnxPersonDetector(_const_model(tmp_path / "e2e.onnx", [dets, labels]))
    boxes, scores = det(np.zeros((50, 100, 3), np.uint8))           # ratio 0.64
    np.testing.assert_allclose(boxes, [[10, 5, 50, 25]], rtol=1e-5)
    np.testing.assert_allclose(scores, [0.9], rtol=1e-6)


def test_raw_yolox_head_is_grid_decoded_and_nms_filtered(tmp_path):
    anchors = (SIZE // 8) ** 2 + (SIZE // 16) ** 2 + (SIZE // 32) ** 2        # 64 + 16 + 4
    raw = np.zeros((1, anchors, 6))
    raw[0, 3 * 8 + 2] = [0.5, 0.5, np.log(2), np.log(4), 0.9, 0.8]        # stride 8, cell (2, 3)
    raw[0, 3 * 8 + 3] = [-0.4, 0.5, np.log(2), np.log(4), 0.9, 0.7]       # the same box from the next cell
    raw[0, 64 + 4 * 1 + 2] = [0.0, 0.0, 0.0, 0.0, 0.8, 0.5]               # stride 16, cell (2, 1)
    det = OnnxPersonDetector(_const_model(tmp_path / "raw.onnx", [raw]))
    boxes, scores = det(np.zeros((SIZE * 2, SIZE * 2, 3), np.uint8))      # ratio 0.5
    # (20, 28) centre, 16 x 32 -> [12, 12, 28, 44] / 0.5; (32, 16) centre, 16 x 16 -> [24, 8, 40, 24] / 0.5
    np.testing.assert_allclose(boxes, [[24, 24, 56, 88], [48, 16, 80, 48]], rtol=1e-5)
    np.testing.assert_allclose(scores, [0.72, 0.4], rtol=1e-5)


def test_a_detector_returning_nothing(tmp_path):
    det = OnnxPersonDetector(_const_model(tmp_path / "none.onnx", [np.zeros((1, 0, 5))]))
    boxes, scores = det(np.zeros((40, 40, 3), np.uint8))
    assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_missing_model_and_bad_output_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        OnnxPersonDetector(tmp_path / "absent.onnx")
    det = OnnxPersonDetector(_const_model(tmp_path / "bad.onnx", [np.zeros((1, 3, 4))]))
    with pytest.raises(DataError, match="expected"):
        det(np.zeros((40, 40, 3), np.uint8))
