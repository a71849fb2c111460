"""The dataset table: per `data.dataset` name, its reader, its evaluator, its keypoints and whether it is video.

One row per dataset, as torchvision's segmentation reference keeps its `get_dataset` table: the
rest of the engine looks a dataset up here (``dataset_spec``) instead of comparing its name.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from simplepose.data.coco import load_coco_keypoints
from simplepose.data.instances import PersonInstance, PosePrediction
from simplepose.data.keypoints import COCO, POSETRACK18, KeypointSchema
from simplepose.data.posetrack import load_posetrack, load_posetrack_boxes
from simplepose.engine.scoring import Evaluation, evaluate_coco_predictions, evaluate_posetrack_predictions
from simplepose.errors import ConfigError


@dataclass(frozen=True)
class DatasetSpec:
    """What the engine needs to know of one dataset."""

    name: str
    reader: Callable[[str, str], list[PersonInstance]]     # (annotation path, image folder) -> instances
    evaluator: Callable[[Sequence[PosePrediction], str, Path], Evaluation]   # (predictions, GT, out dir)
    schema: KeypointSchema      # the keypoints its annotations hold
    video: bool                 # sequences of frames: `track` runs on it, the report reads its videos
    boxes: Callable[[str, str], list[PersonInstance]] | None = None   # GT person boxes `track` takes
                                                                      # without detections (None: reader's)

    def box_reader(self) -> Callable[[str, str], list[PersonInstance]]:
        """The reader of the ground-truth person boxes a tracker takes when it is given no detections."""
        return self.boxes if self.boxes is not None else self.reader


DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (
    DatasetSpec("posetrack18", load_posetrack, evaluate_posetrack_predictions, POSETRACK18, video=True),
    # PoseTrack21's per-video files hold PoseTrack18's fields and keypoints, plus what the readers skip
    # or drop by the same rules, and boxes of people on frames without pose labels (docs/datasets.md)
    DatasetSpec("posetrack21", load_posetrack, evaluate_posetrack_predictions, POSETRACK18, video=True,
                boxes=load_posetrack_boxes),
    DatasetSpec("coco", load_coco_keypoints, evaluate_coco_predictions, COCO, video=False),
)}


def dataset_spec(name: str) -> DatasetSpec:
    """The table's row of `name` (ConfigError naming data.dataset when there is none)."""
    spec = DATASETS.get(name)
    if spec is None:
        raise ConfigError(None, f"unknown dataset '{name}' ({', '.join(DATASETS)})", key="data.dataset")
    return spec
