"""Scoring a split's predictions: the written prediction files and the metrics of one evaluation.

PoseTrack data gets one prediction file per ground-truth video, scored with the PoseTrack mAP;
COCO data one results file, scored with COCO keypoint AP. The dataset table
(simplepose.engine.datasets) says which evaluator a dataset uses.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from simplepose.data.instances import PosePrediction
from simplepose.data.posetrack import load_posetrack_videos
from simplepose.evaluation.coco import evaluate_coco_keypoints
from simplepose.evaluation.eval_data import EvalData, load_eval_data
from simplepose.evaluation.pose_ap import SUMMARY_HEADER, PoseTrackResult, evaluate_data, format_table
from simplepose.evaluation.prediction_files import write_posetrack_predictions
from simplepose.folders import replace_folder


def posetrack_metrics(result: PoseTrackResult) -> dict[str, float]:
    """{'Head AP', ..., 'Ankl AP', 'Total AP', 'AP'} (percent; 'AP' = Total, MMPose's name)."""
    values = [float(v) for v in result.summary_ap]
    metrics = {f"{name} AP": v for name, v in zip(SUMMARY_HEADER, values)}
    metrics["AP"] = metrics["Total AP"]
    return metrics


@dataclass
class Evaluation:
    """The scores of one evaluation and where its prediction files went."""

    metrics: dict[str, float]
    table: str                  # the summary as printed
    predictions: Path           # per-video prediction folder (PoseTrack18) or results file (COCO)
    result: Any                 # the evaluator's own result: PoseTrackResult or the COCO stats
    data: EvalData | None = None    # PoseTrack18: the evaluated frames the result was computed from
    gt: str | None = None           # the ground truth evaluated against

    def to_json(self) -> dict[str, Any]:
        """Strict-JSON summary: metrics (NaN as null), the predictions' absolute path and, for
        PoseTrack18, per-joint AP/precision/recall in `simplepose eval --json`'s layout."""
        out: dict[str, Any] = {
            "metrics": {k: (float(v) if np.isfinite(v) else None) for k, v in self.metrics.items()},
            "predictions": str(Path(self.predictions).absolute())}
        if isinstance(self.result, PoseTrackResult):
            out["posetrack"] = self.result.to_json()
        return out


def evaluate_posetrack_predictions(predictions: Sequence[PosePrediction], gt: str, out_dir: Path) -> Evaluation:
    """Per-video prediction files under out_dir/predictions (swapped in whole, over a previous one only
    if the project wrote it), scored with the PoseTrack18 mAP."""
    videos = load_posetrack_videos(gt)
    pred_dir = replace_folder(out_dir / "predictions",
                              lambda tmp: write_posetrack_predictions(predictions, videos, tmp))
    data = load_eval_data(gt, pred_dir)
    result = evaluate_data(data)
    return Evaluation(posetrack_metrics(result), format_table(result), pred_dir, result, data, str(gt))


def evaluate_coco_predictions(predictions: Sequence[PosePrediction], gt: str, out_dir: Path) -> Evaluation:
    """A COCO results file out_dir/keypoints_results.json, scored with COCO keypoint AP."""
    path = out_dir / "keypoints_results.json"
    stats = evaluate_coco_keypoints(gt, predictions, path)
    metrics = {k: float(v) for k, v in stats.items()}
    return Evaluation(metrics, "\n".join(f"{k:>10s}: {v:.4f}" for k, v in metrics.items()), path, stats)
