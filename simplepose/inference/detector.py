"""ONNX person detectors in the formats rtmlib distributes YOLOX models in (onnxruntime, optional).

Pre-processing (rtmlib's YOLOX): the BGR frame is resized by r = min(H / h, W / w) (cv2 bilinear,
to int(w r) x int(h r)), pasted at the top-left of an H x W canvas filled with 114, and fed as
float32 (1, 3, H, W) BGR without normalisation. H x W is the model's static input size (640 x 640
when the model leaves it dynamic).

Post-processing, by the shape of the first output (1, N, C):

* C == 5: an ``*end2end.onnx`` model with NMS inside: rows x1, y1, x2, y2, score in input pixels;
  a second output, when present, holds class labels (only label 0, person, is kept).
* C >= 6: a raw YOLOX head: rows cx, cy, w, h (grid units), objectness, class scores (already
  sigmoid), over the anchors of strides 8, 16, 32 in that order, each grid row-major; decoded as
  cx = (gx + cx) s, cy = (gy + cy) s, w = exp(w) s, h = exp(h) s; person score = objectness x
  class 0; then greedy box NMS at ``nms_thr``.

Boxes with score > ``score_thr`` are kept and mapped back to frame pixels by dividing by r; of a raw
head only the PRE_NMS_TOP_K best go to NMS (a head calling every anchor confident stays fast). A box
that is NaN, infinite or empty is dropped with a warning naming the model: `infer` and `track` both
take the detector's boxes, so one rule holds for both.

The model must take one float32 (1, 3, H, W) input with 32 <= H, W <= 4096 (or dynamic H, W).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import cv2
import numpy as np

from simplepose.data.geometry import box_nms
from simplepose.download import local_path
from simplepose.errors import DataError
from simplepose.inference.export import onnx_session
from simplepose.model.settings import MAX_INPUT_SIDE

log = logging.getLogger(__name__)

STRIDES = (8, 16, 32)
PAD_VALUE = 114
PRE_NMS_TOP_K = 1000   # raw-head candidates NMS sees, best first (NMS is quadratic in them)


@dataclass
class DetectorConfig:
    """ONNX person detector thresholds (track.detector; rtmlib's YOLOX: NMS 0.45, boxes above 0.3)."""

    score_thr: float = 0.3
    nms_thr: float = 0.45


def letterbox(image: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, float]:
    """(input (1, 3, H, W) float32 BGR, ratio r) of an H x W x 3 uint8 frame, pasted top-left on 114."""
    h_in, w_in = input_hw
    h, w = image.shape[:2]
    r = min(h_in / h, w_in / w)
    canvas = np.full((h_in, w_in, 3), PAD_VALUE, np.uint8)
    nw, nh = int(w * r), int(h * r)
    canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32), r


def decode_yolox(raw: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Raw YOLOX head (A, 5 + C) -> boxes (A, 4) xyxy in input pixels and person scores (A,)."""
    grids, strides = [], []
    for s in STRIDES:
        gy, gx = np.mgrid[0:input_hw[0] // s, 0:input_hw[1] // s]
        grids.append(np.stack([gx.ravel(), gy.ravel()], 1))
        strides.append(np.full(gx.size, s, np.float64))
    grid, stride = np.concatenate(grids), np.concatenate(strides)[:, None]
    if len(grid) != len(raw):
        raise ValueError(f"a raw YOLOX head for {input_hw[0]}x{input_hw[1]} has {len(grid)} anchors, "
                         f"the model gave {len(raw)}")
    raw = raw.astype(np.float64)
    centre = (raw[:, :2] + grid) * stride
    size = np.exp(raw[:, 2:4]) * stride
    return np.concatenate([centre - size / 2, centre + size / 2], 1), raw[:, 4] * raw[:, 5]


class OnnxPersonDetector:
    """An rtmlib-format YOLOX person detector: frame -> boxes (D, 4) xyxy, scores (D,)."""

    def __init__(self, path_or_url: str | os.PathLike, cfg: DetectorConfig | None = None,
                 num_threads: int | None = None):
        """A local .onnx file or a URL (downloaded once into the cache; offline: a message naming the file)."""
        self.cfg = cfg or DetectorConfig()
        path = local_path(path_or_url)
        if not path.is_file():
            raise DataError(path, "detector model not found")
        try:
            self.session = onnx_session(path, num_threads)
        except ImportError:
            raise DataError(path, "ONNX detectors need onnxruntime: pip install onnxruntime") from None
        except Exception as e:  # onnxruntime raises its own types for unreadable models
            raise DataError(path, f"not a loadable ONNX model ({type(e).__name__}: {e})") from None
        self.source = str(path)
        self.input_name, self.input_hw = self._input(path)

    def _input(self, path: os.PathLike) -> tuple[str, tuple[int, int]]:
        """The model's input name and (H, W): one float32 (1, 3, H, W) input of a usable size."""
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise DataError(path, f"the detector has {len(inputs)} inputs; expected one (1, 3, H, W) image")
        inp, shape = inputs[0], list(inputs[0].shape)
        if len(shape) != 4 or shape[1] not in (3, None) and not isinstance(shape[1], str):
            raise DataError(path, f"the detector takes an input of shape {shape}; expected (1, 3, H, W)")
        if inp.type != "tensor(float)":
            raise DataError(path, f"the detector takes an input of type {inp.type}; expected tensor(float)")
        static = all(isinstance(v, int) and v > 0 for v in shape[2:])
        hw = (int(shape[2]), int(shape[3])) if static else (640, 640)
        if not 32 <= min(hw) or max(hw) > MAX_INPUT_SIDE:
            raise DataError(path, f"the detector declares input size {hw[1]}x{hw[0]} (w x h); expected sides "
                                  f"of 32 to {MAX_INPUT_SIDE}")
        return inp.name, hw

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes (D, 4) xyxy in frame pixels and their scores (D,), best first."""
        tensor, ratio = letterbox(image, self.input_hw)
        try:
            outputs = self.session.run(None, {self.input_name: tensor})
        except Exception as e:  # onnxruntime's own error types
            raise DataError(self.source, f"the detector failed to run ({type(e).__name__}: "
                                         f"{str(e).strip().splitlines()[0][:200] if str(e).strip() else ''})") from None
        return self.postprocess(outputs, ratio)

    def postprocess(self, outputs: list[np.ndarray], ratio: float) -> tuple[np.ndarray, np.ndarray]:
        """Boxes and scores in frame pixels from the model's outputs (see the module docstring)."""
        first = np.asarray(outputs[0])
        if first.ndim != 3 or first.shape[0] != 1 or first.shape[2] < 5:
            raise DataError(self.source, f"detector output of shape {first.shape}: expected (1, N, 5) "
                                         "(end2end) or (1, N, 5 + classes) (raw YOLOX)")
        rows = first[0].astype(np.float64)
        if rows.shape[1] == 5:
            boxes, scores = rows[:, :4], rows[:, 4]
            keep = scores > self.cfg.score_thr
            if len(outputs) > 1 and np.asarray(outputs[1]).size == len(rows):
                keep &= np.asarray(outputs[1]).reshape(-1) == 0
            order = np.flatnonzero(keep)[np.argsort(-scores[keep], kind="stable")]
        else:
            try:
                boxes, scores = decode_yolox(rows, self.input_hw)
            except ValueError as e:
                raise DataError(self.source, str(e)) from None
            cand = np.flatnonzero(scores > self.cfg.score_thr)
            cand = cand[np.argsort(-scores[cand], kind="stable")[:PRE_NMS_TOP_K]]
            order = cand[box_nms(boxes[cand], scores[cand], self.cfg.nms_thr)]
        return self._usable(boxes[order] / ratio, scores[order])

    def _usable(self, boxes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (D, 4) and scores (D,) without NaN, infinite or empty boxes (warned about, by model)."""
        ok = np.isfinite(boxes).all(1) & np.isfinite(scores) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        if not ok.all():
            log.warning("%s: dropped %d detector box(es) that are NaN, infinite or empty (first: %s)", self.source,
                        int((~ok).sum()), boxes[~ok][0].tolist())
        return boxes[ok], scores[ok]
