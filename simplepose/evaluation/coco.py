"""COCO keypoint AP (pycocotools' COCOeval, iouType 'keypoints') after the reference's rescoring + OKS-NMS."""
from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pycocotools.coco import COCO as CocoApi
from pycocotools.cocoeval import COCOeval

from simplepose.data.cocostyle import result_record
from simplepose.data.instances import PosePrediction
from simplepose.data.keypoints import COCO, KeypointSchema
from simplepose.errors import DataError
from simplepose.evaluation.rescore import KEYPOINT_SCORE_THR, NMS_THR, postprocess
from simplepose.io import read_json, write_json

log = logging.getLogger(__name__)

STAT_NAMES: tuple[str, ...] = ("AP", "AP .5", "AP .75", "AP (M)", "AP (L)",
                               "AR", "AR .5", "AR .75", "AR (M)", "AR (L)")


def coco_results(predictions: Sequence[PosePrediction], schema: KeypointSchema = COCO,
                 score_thr: float = KEYPOINT_SCORE_THR, nms_thr: float = NMS_THR) -> list[dict[str, Any]]:
    """COCO results records (image_id, category_id, keypoints [x, y, score]*K, score, bbox) after NMS."""
    keep, scores = postprocess(predictions, schema.sigmas_array, score_thr=score_thr, nms_thr=nms_thr)
    return [result_record(predictions[i].image_id, predictions[i].keypoints, predictions[i].keypoint_scores,
                          scores[i], predictions[i].bbox_xywh) for i in keep.tolist()]


def _quiet(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a pycocotools function, sending its prints to the debug log."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        result = fn(*args)
    if buf.getvalue().strip():
        log.debug("%s", buf.getvalue().rstrip())
    return result


def evaluate_coco_keypoints(gt_json: str | os.PathLike, predictions: Sequence[PosePrediction],
                            out_json: str | os.PathLike | None = None, schema: KeypointSchema = COCO,
                            **kwargs: Any) -> dict[str, float]:
    """The 10 COCO keypoint stats (AP, AP .5, ..., AR (L)) of predictions against gt_json.

    Writes the COCO results JSON to out_json (atomically) when given; keyword arguments go to
    coco_results. No predictions give all-zero stats.
    """
    gt_json = Path(gt_json)
    doc = read_json(gt_json)
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) or \
            not isinstance(doc.get("annotations"), list):
        raise DataError(gt_json, "not a COCO keypoint annotation file ('images' and 'annotations' lists)")
    image_ids = {im.get("id") for im in doc["images"] if isinstance(im, dict)}
    for i, p in enumerate(predictions):
        if p.image_id not in image_ids:
            raise DataError(gt_json, f"prediction {i} refers to image id {p.image_id}, not in the file")
    results = coco_results(predictions, schema, **kwargs)
    if out_json is not None:
        write_json(out_json, results)
    if not results:
        log.warning("no predictions: COCO keypoint stats are all 0")
        return {name: 0.0 for name in STAT_NAMES}
    gt = CocoApi()
    gt.dataset = doc
    _quiet(gt.createIndex)
    dt = _quiet(gt.loadRes, results)
    ev = COCOeval(gt, dt, "keypoints")
    ev.params.kpt_oks_sigmas = schema.sigmas_array
    _quiet(ev.evaluate)
    _quiet(ev.accumulate)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        ev.summarize()
    log.info("COCO keypoint evaluation:\n%s", buf.getvalue().rstrip())
    return {name: float(v) for name, v in zip(STAT_NAMES, ev.stats)}
