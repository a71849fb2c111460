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


def _model_with_input(path, dims: list[int] | None, elem_type: int = TensorProto.FLOAT) -> str:
    """A model whose one input has `dims` and `elem_type` (none when dims is None), output (1, 1, 5) zeros."""
    inputs = [] if dims is None else [helper.make_tensor_value_info("input", elem_type, dims)]
    nodes = [helper.make_node("Constant", [], ["out0"], value=numpy_helper.from_array(np.zeros((1, 1, 5), np.float32)))]
    graph = helper.make_graph(nodes, "odd", inputs, [helper.make_tensor_value_info("out0", TensorProto.FLOAT,
                                                                                  [1, 1, 5])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return str(path)


@pytest.mark.parametrize("dims, elem_type, problem", [
    (None, TensorProto.FLOAT, "has 0 inputs"),
    ([1, 3], TensorProto.FLOAT, r"input of shape \[1, 3\]"),
    ([1, 3, 64, 64], TensorProto.UINT8, "input of type tensor\\(uint8\\)"),
    ([1, 3, 1, 1], TensorProto.FLOAT, "input size 1x1"),
    ([1, 3, 100000, 100000], TensorProto.FLOAT, "input size 100000x100000"),
])
def test_detectors_with_unusable_inputs_are_refused_when_opened(tmp_path, dims, elem_type, problem):
    """No input, a 2-D or uint8 input, a 1x1 or a 100000^2 input: one DataError naming the file, before any frame."""
    path = _model_with_input(tmp_path / "odd.onnx", dims, elem_type)
    with pytest.raises(DataError, match=rf"odd\.onnx: .*{problem}"):
        OnnxPersonDetector(path)


def test_a_raw_head_with_the_wrong_anchor_count_is_a_located_error(tmp_path):
    """A raw head whose rows do not match the anchors of its input size: a DataError naming the file."""
    det = OnnxPersonDetector(_const_model(tmp_path / "anchors.onnx", [np.zeros((1, 83, 6))]))
    with pytest.raises(DataError, match=r"anchors\.onnx: .*84 anchors, the model gave 83"):
        det(np.zeros((40, 40, 3), np.uint8))


def test_all_anchors_confident_keeps_only_the_best_candidates(tmp_path):
    """Every anchor of a 640x640 raw head confident (8400): NMS sees only the PRE_NMS_TOP_K best,
    and the best box of all is among the results."""
    from simplepose.inference.detector import PRE_NMS_TOP_K
    raw = np.zeros((1, 8400, 6))
    raw[0, :, 4] = 1.0
    raw[0, :, 5] = np.linspace(0.5, 0.9, 8400)
    raw[0, :, 2:4] = np.log(0.5)                          # half-cell boxes: no two anchors overlap
    det = OnnxPersonDetector(_const_model(tmp_path / "busy.onnx", [raw]))
    det.input_hw = (640, 640)
    boxes, scores = det.postprocess([raw.astype(np.float32)], 1.0)
    assert len(boxes) == PRE_NMS_TOP_K < 8400
    assert scores[0] == pytest.approx(0.9) and scores.min() >= np.sort(raw[0, :, 5])[-PRE_NMS_TOP_K] - 1e-6


def test_a_nan_or_empty_box_is_dropped_with_a_warning_naming_the_detector(tmp_path, caplog):
    """One NaN and one empty box among good ones: both dropped (the same rule for infer and track, which
    both take the detector's boxes), with a warning naming the file."""
    dets = np.array([[[0, 0, 10, 10, 0.9], [np.nan, 0, 10, 10, 0.8], [5, 5, 5, 9, 0.7], [1, 1, 20, 20, 0.6]]])
    det = OnnxPersonDetector(_const_model(tmp_path / "nan.onnx", [dets]))
    boxes, scores = det(np.zeros((64, 64, 3), np.uint8))
    np.testing.assert_allclose(scores, [0.9, 0.6], rtol=1e-6)
    assert "nan.onnx: dropped 2 detector box(es) that are NaN, infinite or empty" in caplog.text
