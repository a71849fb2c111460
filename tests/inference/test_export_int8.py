"""int8 export: the QDQ graph, its agreement with float32 and the keypoint check on hand-built models."""
from __future__ import annotations

import numpy as np
import pytest

from simplepose.errors import SimplePoseError
from tests.inference.export_models import scaled_head_model

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime.quantization")

from simplepose.inference.export import int8_agreement, onnx_bytes, onnx_session, quantize_int8  # noqa: E402


def _shift_model(shift: int, size: tuple[int, int] = (8, 8)) -> bytes:
    """ONNX "input" (N, 3, H, W) -> "heatmaps": the input moved `shift` pixels right (zeros enter on the left)."""
    from onnx import TensorProto, helper
    w, h = size
    pads = helper.make_tensor("pads", TensorProto.INT64, [8], [0, 0, 0, shift, 0, 0, 0, 0])
    starts = helper.make_tensor("starts", TensorProto.INT64, [1], [0])
    ends = helper.make_tensor("ends", TensorProto.INT64, [1], [w])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [3])
    graph = helper.make_graph(
        [helper.make_node("Pad", ["input", "pads"], ["padded"]),
         helper.make_node("Slice", ["padded", "starts", "ends", "axes"], ["heatmaps"])],
        "shift", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, h, w])],
        [helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT, ["n", 3, h, w])],
        initializer=[pads, starts, ends, axes])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _peaks() -> np.ndarray:
    """(1, 3, 8, 8) maps: a confident peak at x=2 (channel 0) and x=5 (channel 2), a weak one (channel 1)."""
    x = np.zeros((1, 3, 8, 8), np.float32)
    x[0, 0, 3, 2], x[0, 1, 4, 4], x[0, 2, 6, 5] = 0.9, 0.1, 0.8
    return x


def test_agreement_counts_confident_joints_within_one_heatmap_pixel() -> None:
    """Hand-built models: a 1 px move keeps both confident joints, a 2 px move loses them; the weak
    joint (0.1 < 0.3) does not count either way."""
    same = _shift_model(0)
    assert int8_agreement(same, _shift_model(1), _peaks()) == 1.0
    assert int8_agreement(same, _shift_model(2), _peaks()) == 0.0
    only_weak = _peaks() * np.array([0, 1, 0], np.float32)[None, :, None, None]
    assert int8_agreement(same, _shift_model(2), only_weak) == 1.0        # nothing confident to lose


def test_quantised_graph_is_qdq_with_int8_weights_and_tracks_float32() -> None:
    """Every conv's weight is int8 behind a DequantizeLinear; outputs follow float32 closely."""
    data = onnx_bytes(scaled_head_model(), (64, 96))
    gen = np.random.default_rng(0)
    calibration = gen.standard_normal((16, 3, 96, 64)).astype(np.float32)
    int8 = quantize_int8(data, calibration)
    graph = onnx.load_from_string(int8).graph
    ops = [n.op_type for n in graph.node]
    convs = ops.count("Conv") + ops.count("ConvTranspose")
    assert convs > 0 and ops.count("QuantizeLinear") >= convs and ops.count("DequantizeLinear") >= 2 * convs
    int8_weights = [t for t in graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(int8_weights) >= convs
    x = gen.standard_normal((4, 3, 96, 64)).astype(np.float32)
    ref = onnx_session(data).run(["heatmaps"], {"input": x})[0]
    got = onnx_session(int8).run(["heatmaps"], {"input": x})[0]
    assert got.shape == ref.shape and np.isfinite(got).all()
    assert np.corrcoef(ref.ravel(), got.ravel())[0, 1] > 0.98
    assert np.abs(got - ref).mean() < 0.1 * np.abs(ref).mean()


def test_quantisation_refuses_bad_calibration_crops() -> None:
    """Wrong shape, no crops, or NaN: a SimplePoseError naming the crops, before any quantisation."""
    data = onnx_bytes(scaled_head_model(), (64, 96))
    for bad in (np.zeros((2, 96, 64), np.float32), np.zeros((0, 3, 96, 64), np.float32),
                np.full((1, 3, 96, 64), np.nan, np.float32)):
        with pytest.raises(SimplePoseError, match="calibration crops"):
            quantize_int8(data, bad)
