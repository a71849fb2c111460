"""The test loop: model over a validation set -> PosePrediction list -> PoseTrack or COCO evaluator.

Crops come from the validation dataset (no augmentation, as MMPose's test pipeline), keypoints from
the shared top-down prediction step; each prediction carries the OKS area of the crop it was made
from, which is what the reference's OKS-NMS uses.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from simplepose.data.geometry import scale_area
from simplepose.data.instances import PersonInstance, PosePrediction
from simplepose.engine import distributed
from simplepose.engine.config import Config
from simplepose.engine.datasets import dataset_spec
from simplepose.engine.scoring import Evaluation
from simplepose.engine.data import EpochSampler, SeededDataset, build_dataset, make_loader
from simplepose.errors import ConfigError
from simplepose.evaluation.report import Clip, find_images_root, write_report
from simplepose.inference.topdown import TopDownPredictor
from simplepose.model.pose_model import unwrap

log = logging.getLogger("simplepose.evaluate")


def predict_instances(cfg: Config, model: nn.Module, instances: Sequence[PersonInstance],
                      device: torch.device | str = "cpu", progress: bool = True,
                      keep_bar: bool = False, precision: str = "fp32") -> list[PosePrediction]:
    """Predict every instance (this rank's share under DDP, gathered on all ranks) in input order.

    keep_bar: leave the finished progress bar on its own line (a cleared bar leaves the cursor
    where the next output, e.g. a table, would be written over it in logs and pipes).
    precision: "fp32" (default: the reference's numbers), "auto", "bf16" or "fp16".
    """

    device = torch.device(device)
    info = distributed.get_info()
    d = cfg.data
    dataset = SeededDataset(build_dataset(cfg, list(instances), train=False))
    sampler = EpochSampler(len(dataset), 0, shuffle=False, rank=info.rank, world_size=info.world_size,
                           round_up=False)
    loader = make_loader(dataset, d.val_batch_size, sampler, d.workers, device, persistent=False)
    flip_indices = list(dataset_spec(d.dataset).schema.flip_indices) if d.flip_test else None
    was_training = model.training
    # float32 runs the model as trained (the reference's numbers); reduced precision the fused model
    predictor = TopDownPredictor.prepared(model, d.input_size, flip_indices, precision=precision, device=device,
                                          fuse="reduced")
    log.info("test loop: %s", predictor.precision.describe())
    model.eval()
    out: list[tuple[int, PosePrediction]] = []
    bar = None
    if progress and info.is_main:
        bar = tqdm(total=len(sampler), desc="predict", unit="inst", leave=keep_bar, dynamic_ncols=True)
    try:
        for batch in loader:
            centers, scales = batch["center"].numpy(), batch["scale"].numpy()   # (N, 2) each
            kp = predictor.keypoints(batch["inputs"], centers, scales)          # (N, K, 3)
            areas = scale_area(scales)                                          # (N,)
            for j, idx in enumerate(batch["index"].tolist()):
                inst = instances[idx]
                out.append((idx, PosePrediction(
                    image_id=inst.image_id, bbox_xywh=np.asarray(inst.bbox_xywh, np.float64),
                    keypoints=kp[j, :, :2], keypoint_scores=kp[j, :, 2], area=float(areas[j]),
                    box_score=float(inst.score), track_id=inst.track_id, video_id=inst.video_id,
                    frame_index=inst.frame_index, image_path=inst.image_path)))
            if bar is not None:
                bar.update(len(kp))
    finally:
        if bar is not None:
            bar.close()
        model.train(was_training)
    gathered = [p for part in distributed.all_gather_objects(out) for p in part]
    gathered.sort(key=lambda t: t[0])
    return [p for _, p in gathered]


def write_evaluation_report(evaluation: Evaluation, out_dir: str | Path, clip: Clip | None = None) -> Path:
    """The HTML report (evaluation.report) of a PoseTrack18 evaluation, with an optional video clip;
    returns its index.html."""
    if evaluation.data is None:
        raise ConfigError(None, "the evaluation report needs a PoseTrack18 evaluation", key="data.dataset")
    images = find_images_root(evaluation.gt, evaluation.data.file_names) if evaluation.gt else None
    return write_report(out_dir, evaluation.data, evaluation.result, images_root=images,
                        extra={"gt": evaluation.gt, "pred": str(evaluation.predictions)}, clip=clip)


def evaluate_predictions(cfg: Config, predictions: Sequence[PosePrediction], out_dir: str | Path,
                         gt: str | None = None) -> Evaluation:
    """Write the predictions' files under out_dir and score them against gt (default data.val_gt)."""
    evaluator = dataset_spec(cfg.data.dataset).evaluator
    return evaluator(predictions, gt or cfg.resolve(cfg.data.val_gt), Path(out_dir))


def validate(cfg: Config, model: nn.Module, instances: Sequence[PersonInstance], device: torch.device,
             out_dir: Path) -> dict[str, float]:
    """Predict on every rank, evaluate on rank 0; metrics dict on rank 0 ({} elsewhere)."""
    net = unwrap(model)
    predictions = predict_instances(cfg, net, instances, device, precision=cfg.runtime.precision)
    metrics: dict[str, float] = {}
    if distributed.get_info().is_main:
        metrics = evaluate_predictions(cfg, predictions, out_dir).metrics
    distributed.barrier()
    return metrics
