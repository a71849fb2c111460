"""ONNX export: dynamic batch, agreement with PyTorch under onnxruntime, the onnxruntime estimator backend."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.inference.export_models import bn_statistics_model

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from simplepose.inference.export import export_onnx, onnx_session, verify_onnx  # noqa: E402


def test_onnx_matches_pytorch_at_several_batch_sizes(tmp_path: Path) -> None:
    """ONNX Runtime heatmaps equal PyTorch's (unfolded BN) to float32 noise at batch 1, 2 and 5."""
    model = bn_statistics_model()
    path = export_onnx(model, tmp_path / "m.onnx", input_size=(64, 96))
    session = onnx_session(path)
    x = torch.randn(5, 3, 96, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = model(x).numpy()
    assert ref.shape == (5, 17, 24, 16) and np.abs(ref).max() > 0.1
    for n in (1, 2, 5):
        got = session.run(None, {"input": x[:n].numpy()})[0]
        np.testing.assert_allclose(got, ref[:n], rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    assert verify_onnx(model, path, (64, 96)) < 1e-4 * np.abs(ref).max()


def test_estimator_onnxruntime_backend_matches_golden(mmpose_golden_dir: Path, samples_dir: Path) -> None:
    """PoseEstimator(backend="onnxruntime") reproduces inference_topdown's keypoints on a real frame."""
    import json

    from simplepose import PoseEstimator
    from simplepose.model.checkpoint import build_model_from_state_dict
    from tests.model.fill_rule import fill_state_dict
    with np.load(mmpose_golden_dir / "e2e_inference_topdown.npz") as z:
        keypoints, scores = z["keypoints"], z["keypoint_scores"]
    rows = json.loads((mmpose_golden_dir / "e2e_inference_topdown.json").read_text())["instances"]
    sel = [i for i, r in enumerate(rows) if "009473" in r["img_path"]]
    assert len(sel) == 2
    est = PoseEstimator(build_model_from_state_dict(fill_state_dict(mmpose_golden_dir)), backend="onnxruntime")
    # float32, as the golden's dataset-parsed boxes (float64 ones take MMPose's float64 API path)
    boxes = np.array([rows[i]["bbox_xyxy_dataset"] for i in sel], np.float32)
    pred = est.predict(samples_dir / rows[sel[0]]["img_path"], boxes, bbox_format="xyxy")
    np.testing.assert_allclose(pred[..., :2], keypoints[sel], rtol=0, atol=1e-2)
    np.testing.assert_allclose(pred[..., 2], scores[sel], rtol=1e-4, atol=1e-5)
