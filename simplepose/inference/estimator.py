"""PoseEstimator: boxes on images -> keypoints in image pixels, batched over persons and images.

Per image: one decode, then for every box the reference's top-down steps (MMPose's
``inference_topdown``): xywh -> xyxy (no clipping), center/scale with 1.25 padding, aspect ratio
fixed to the input's (all in the boxes' precision, as there: float32 boxes in float32, others in
float64), an affine crop (OpenCV's fixed-point bilinear warp, as cv2.warpAffine),
mean/std normalisation, then the shared prediction step (``simplepose.inference.topdown``).
The network is prepared for CPU inference: BN folded into the convs, channels_last weights, oneDNN's
fused conv+ReLU and conv+add+ReLU kernels where available, and persons processed in chunks small
enough for the activations to stay in cache. predict_batch decodes and crops its images side by side
(up to torch's thread count: OpenCV releases the GIL), so that this serial part of the work does not
leave a core idle.

Precision (`precision=`, model/precision.py): `auto` runs the fused model in bfloat16 where the CPU
multiplies bf16 natively (AMX / AVX512_BF16) and in float32 elsewhere (model.fusion.prepare_in_precision
says why that path and what it falls back to). In bf16 the crops are normalised straight into bf16
channels_last (one pass, the float32 values rounded once) and the heatmaps are upcast to float32
before the flip average and decoding. `fp32` reproduces the reference's numbers (the goldens);
one INFO line names the path that runs and why.
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from simplepose.data import geometry
from simplepose.data.image import read_image
from simplepose.data.keypoints import SCHEMAS, KeypointSchema, get_schema
from simplepose.data.transforms import crop_persons, normalise_crops
from simplepose.errors import CheckpointError, DataError
from simplepose.inference.deployed import DeployedModel
from simplepose.inference.export import OnnxRuntimeModel
from simplepose.inference.topdown import TopDownPredictor
from simplepose.model.checkpoint import load_model_and_settings
from simplepose.model.precision import Precision
from simplepose.model.settings import checkpoint_input_size

log = logging.getLogger(__name__)

_GROUP = 64  # persons normalised and decoded together (bounds the float input memory)


class PoseEstimator:
    """Top-down keypoint estimator around a SimpleBaseline network."""

    def __init__(self, model: nn.Module, input_size: tuple[int, int] = (192, 256), flip_test: bool = True,
                 schema: KeypointSchema | str | None = None, chunk_size: int | None = None,
                 fast: bool = True, padding: float = 1.25, backend: str = "torch",
                 device: str | torch.device = "cpu", precision: str = "auto"):
        """model: (N, 3, H, W) -> (N, K, H/4, W/4); input_size (w, h); schema gives the flip pairs.

        device: where the network runs ("cpu", "cuda", "cuda:1", ...); crops and decoding stay on
        the CPU. The oneDNN-fused kernels are CPU-only; other devices get the BN-folded model.

        precision: "auto" (bf16 where native, else fp32), "fp32" (the reference's numbers), "bf16"
        or "fp16"; see the module docstring. chunk_size: images per pass (default: per precision on
        the CPU, the whole batch on other devices; TopDownPredictor.prepared).

        backend "torch" (BN folded, channels_last when fast=True), "onnxruntime" (needs the
        onnxruntime package; the model is exported in memory and runs float32) or "deployed" (model
        is a DeployedModel: an exported file run as it is; see from_onnx).
        """
        self.input_size = (int(input_size[0]), int(input_size[1]))
        if self.input_size[0] % 32 or self.input_size[1] % 32 or min(self.input_size) <= 0:
            # the backbone's stride is 32: other sizes give heatmaps the decoder would mis-scale
            raise ValueError(f"input_size (w, h) must be positive multiples of 32, got {self.input_size}")
        self.padding = float(padding)
        self.device = torch.device(device)
        num_keypoints = getattr(model, "num_keypoints", None)
        if schema is None:
            schema = "posetrack18"
        self.schema = get_schema(schema) if isinstance(schema, str) else schema
        if num_keypoints is not None and len(self.schema.keypoint_names) != num_keypoints:
            raise ValueError(f"the model predicts {num_keypoints} keypoints but schema "
                             f"{getattr(self.schema, 'name', '')!r} has {len(self.schema.keypoint_names)}")
        self.flip_indices = list(self.schema.flip_indices)
        flips = self.flip_indices if flip_test else None
        model, runs_in = self._backend_model(model, backend, precision)
        self.predictor = TopDownPredictor.prepared(
            model, self.input_size, flips, precision=runs_in, device=self.device if backend == "torch" else None,
            fuse="always" if fast else "never", chunk_size=chunk_size)
        self.backend = backend
        log.info("pose estimator: %s (%s backend, %s)", self.precision.describe(), backend,
                 type(self.model).__name__)

    def _backend_model(self, model: nn.Module, backend: str, precision: str) -> tuple[nn.Module, str | Precision]:
        """The model the backend runs, with the precision to resolve (torch) or the one it runs in."""
        if backend == "torch":
            return model, precision
        if backend == "onnxruntime":
            if self.device.type != "cpu":
                raise ValueError("the onnxruntime backend runs on the CPU here; use backend='torch' for "
                                 f"device {self.device}")
            if precision not in ("auto", "fp32"):
                raise ValueError(f"the onnxruntime backend runs float32 only, not {precision}")
            return OnnxRuntimeModel(model.eval(), self.input_size), Precision("fp32", "the onnxruntime backend runs float32")
        if backend == "deployed":
            if not isinstance(model, DeployedModel) or self.device.type != "cpu" or precision != "auto":
                raise ValueError("backend 'deployed' takes a DeployedModel on the CPU, in the precision it was "
                                 "exported in (precision='auto')")
            # float32 in and out; the arithmetic inside is the file's (int8 or float32)
            return model, Precision("fp32", model.describe())
        raise ValueError(f"backend must be 'torch', 'onnxruntime' or 'deployed', got {backend!r}")

    @property
    def model(self) -> nn.Module:
        """The network as it runs (fused, autocast or exported)."""
        return self.predictor.model

    @property
    def precision(self) -> Precision:
        """The precision the network runs in, and why."""
        return self.predictor.precision

    @property
    def chunk_size(self) -> int | None:
        """Images per forward pass."""
        return self.predictor.chunk_size

    @classmethod
    def from_checkpoint(cls, path_or_url: str | os.PathLike, input_size: tuple[int, int] | None = None,
                        flip_test: bool = True, schema: KeypointSchema | str | None = None,
                        chunk_size: int | None = None, fast: bool = True, backend: str = "torch",
                        device: str | torch.device = "cpu", precision: str = "auto") -> "PoseEstimator":
        """From an MMPose 0.x/1.x or simplepose checkpoint (file or URL); depth and K from the weights.

        input_size (w, h) and the keypoint schema default to what the checkpoint records (see
        checkpoint_input_size and schema_from_meta).
        """
        model, meta, settings = load_model_and_settings(path_or_url)  # on the CPU; __init__ moves it
        source = str(path_or_url)
        if input_size is None:
            input_size = checkpoint_input_size(settings, source, model.num_deconv)
        if schema is None:
            schema = schema_from_meta(meta, model.num_keypoints, source=source, dataset=settings.dataset)
        keypoints = get_schema(schema) if isinstance(schema, str) else schema
        if settings.flip_indices is not None and tuple(settings.flip_indices) != tuple(keypoints.flip_indices):
            log.warning("%s: its dataset_meta flip indices %s differ from schema %r's %s; using the schema's",
                        source, list(settings.flip_indices), keypoints.name, list(keypoints.flip_indices))
        return cls(model, input_size=input_size, flip_test=flip_test, schema=keypoints, chunk_size=chunk_size,
                   fast=fast, backend=backend, device=device, precision=precision)

    @classmethod
    def from_onnx(cls, path: str | os.PathLike, runtime: str = "auto", flip_test: bool = True,
                  chunk_size: int | None = None, num_threads: int | None = None) -> "PoseEstimator":
        """From a file `simplepose export` wrote (float32 or int8), run by OpenVINO (runtime auto,
        where installed) or ONNX Runtime; input size and schema are the ones the file records."""
        model = DeployedModel(path, runtime, num_threads)
        return cls(model, input_size=model.info.input_size, flip_test=flip_test, schema=model.info.schema,
                   chunk_size=chunk_size, backend="deployed")

    # ------------------------------------------------------------------------------------------
    def predict(self, image: np.ndarray | str | os.PathLike, boxes: np.ndarray,
                bbox_format: str = "xywh") -> np.ndarray:
        """Keypoints (N, K, 3) f32: x, y in image pixels and score, for boxes (N, 4) on one image."""
        return self.predict_batch([image], [boxes], bbox_format=bbox_format)[0]

    def predict_batch(self, images: Sequence[np.ndarray | str | os.PathLike], boxes: Sequence[np.ndarray],
                      bbox_format: str = "xywh") -> list[np.ndarray]:
        """Per image (N_i, K, 3) keypoints; all persons of all images share the network's batches."""
        if len(images) != len(boxes):
            raise ValueError(f"{len(images)} images but {len(boxes)} box arrays")
        workers = min(len(images), torch.get_num_threads())
        if workers > 1:
            # OpenCV decodes and warps with the GIL released: the images are cropped side by side
            # (in order; the first bad image's error is raised, as in the loop)
            with ThreadPoolExecutor(workers) as pool:
                per_image = list(pool.map(lambda ib: self._crop_image(*ib, bbox_format), zip(images, boxes)))
        else:
            per_image = [self._crop_image(image, image_boxes, bbox_format) for image, image_boxes in zip(images, boxes)]
        crops, centers, scales = (list(parts) for parts in zip(*per_image)) if per_image else ([], [], [])
        counts = [len(c) for c in crops]
        k = len(self.flip_indices)
        if sum(counts) == 0:
            return [np.zeros((0, k, 3), np.float32) for _ in counts]
        keypoints = self.predict_crops(np.concatenate(crops), np.concatenate(centers), np.concatenate(scales))
        return np.split(keypoints, np.cumsum(counts)[:-1])

    def _crop_image(self, image: np.ndarray | str | os.PathLike, boxes: np.ndarray,
                    bbox_format: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One image's person crops (N, H, W, 3) uint8 with their input centers and scales (N, 2)."""
        img = load_image(image)
        xyxy = _boxes_to_xyxy(boxes, bbox_format, source=image)
        # in the boxes' own precision, as inference_topdown: float32 boxes stay float32 (its dataset
        # path), any others give float64 centres and scales
        center, scale = geometry.input_center_scale(xyxy, self.aspect_ratio, self.padding, dtype=xyxy.dtype)
        return crop_persons(img, center, scale, None, self.input_size, dtype=xyxy.dtype), center, scale

    def predict_crops(self, crops: np.ndarray, centers: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """Crops (N, H, W, 3) uint8 BGR with their input centers/scales (N, 2) -> keypoints (N, K, 3)."""
        if len(crops) == 0:
            return np.zeros((0, len(self.flip_indices), 3), np.float32)
        parts = [self.predictor.keypoints(normalise_crops(crops[i:i + _GROUP], self.predictor.input_dtype,
                                                          self.predictor.channels_last),
                                          centers[i:i + _GROUP], scales[i:i + _GROUP])
                 for i in range(0, len(crops), _GROUP)]  # bounded memory for many persons
        return np.concatenate(parts)

    def heatmaps(self, inputs: torch.Tensor) -> torch.Tensor:
        """Normalised inputs (N, 3, H, W) -> heatmaps (N, K, h, w), flip-test averaged if enabled."""
        return self.predictor.heatmaps(inputs)

    @property
    def flip_test(self) -> bool:
        """Whether the network also runs on the mirrored crops (the reference's flip test)."""
        return self.predictor.flip_indices is not None

    @flip_test.setter
    def flip_test(self, enabled: bool) -> None:
        self.predictor.flip_indices = self.flip_indices if enabled else None

    @property
    def aspect_ratio(self) -> float:
        """Input width / height: boxes are grown to it before cropping."""
        return self.input_size[0] / self.input_size[1]

    def oks_areas(self, boxes: np.ndarray, bbox_format: str = "xywh") -> np.ndarray:
        """OKS-NMS areas (N,) float32 of boxes (N, 4): the size of the crops predict() takes from them."""
        xyxy = _boxes_to_xyxy(np.asarray(boxes, np.float64), bbox_format, source=None)
        return geometry.scale_area(geometry.input_center_scale(xyxy, self.aspect_ratio, self.padding)[1])


def schema_from_meta(meta: dict, num_keypoints: int, source: str = "<checkpoint>",
                     dataset: str | None = None) -> KeypointSchema:
    """The keypoint schema a checkpoint was trained for: meta["schema"] (ours), the dataset of its saved
    training config (`dataset`), MMPose's meta["dataset_meta"]["dataset_name"], or the dataset named in
    an MMPose 0.x meta["config"] text; PoseTrack18 for 17 keypoints (with a warning) when nothing does."""
    names = [meta.get("schema"), dataset]
    dataset_meta = meta.get("dataset_meta")
    if isinstance(dataset_meta, dict):
        names.append(dataset_meta.get("dataset_name"))
    config = meta.get("config")
    if isinstance(config, str):
        lowered = config.lower()
        names.append("posetrack18" if "posetrack" in lowered else "coco" if "coco" in lowered else None)
    for name in names:
        if isinstance(name, str):
            try:
                schema = get_schema(name.lower())
            except (KeyError, ValueError):
                continue
            if schema.num_keypoints == num_keypoints:
                return schema
    if num_keypoints == 17:
        log.warning("%s: the checkpoint names no keypoint set; assuming PoseTrack18's (flip pairs, drawing)",
                    source)
        return get_schema("posetrack18")
    known = ", ".join(sorted({f"{n} ({get_schema(n).num_keypoints})" for n in SCHEMAS}))
    raise CheckpointError(f"{source}: predicts {num_keypoints} keypoints, and no keypoint set simplepose knows fits "
                          f"(known: {known}); from Python pass schema= explicitly")


def _boxes_to_xyxy(boxes: np.ndarray, bbox_format: str, source: object) -> np.ndarray:
    """Validated (N, 4) boxes in xywh or xyxy -> xyxy (no clipping): float32 for float32 boxes, else float64."""
    raw = np.asarray(boxes)
    b = raw.astype(np.float32 if raw.dtype == np.float32 else np.float64)
    where = source if isinstance(source, (str, os.PathLike)) else None
    if b.ndim == 1 and b.size == 0:
        b = b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise DataError(where, f"boxes must have shape (N, 4), got {b.shape}")
    if not np.isfinite(b).all():
        raise DataError(where, "boxes contain NaN or inf", record=f"box {int(np.where(~np.isfinite(b))[0][0])}")
    if bbox_format == "xywh":
        xyxy = geometry.bbox_xywh_to_xyxy(b)
    elif bbox_format == "xyxy":
        xyxy = b
    else:
        raise ValueError(f"bbox_format must be 'xywh' or 'xyxy', got {bbox_format!r}")
    empty = np.where((xyxy[:, 2] <= xyxy[:, 0]) | (xyxy[:, 3] <= xyxy[:, 1]))[0]
    if len(empty):
        raise DataError(where, f"box has zero or negative width/height: {b[empty[0]].tolist()} ({bbox_format})",
                        record=f"box {int(empty[0])}")
    return xyxy


def load_image(image: np.ndarray | str | os.PathLike) -> np.ndarray:
    """An H x W x 3 uint8 BGR image from an array (checked) or a file (decoded once)."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(Path(image))
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise DataError(None, f"image must be an H x W x 3 uint8 BGR array, got {img.dtype} {img.shape}")
    return img
