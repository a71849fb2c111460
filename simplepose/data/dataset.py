"""Top-down training/validation dataset: person instance -> normalised crop, heatmap target, metadata.

Randomness is a pure function of (seed, epoch, index): every sample reproduces exactly in any
dataloader worker, with any number of workers. The epoch lives in shared memory, so `set_epoch`
reaches persistent workers too (call it before iterating the loader for that epoch).
"""
from __future__ import annotations


import os
import time
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from simplepose.data.codec import MSRAHeatmap
from simplepose.data.image import ImageCache, choose_reduction, probe_image_size, read_image, read_jpeg_region
from simplepose.data.instances import PersonInstance
from simplepose.data.keypoints import KeypointSchema
from simplepose.data.augment import AugmentConfig, AugmentParams, sample_augment_params, sample_geometry
from simplepose.data.transforms import (image_sampling_matrix, normalise_crops, remap_region, sampled_bounds,
                                        sampling_maps, warp_image)
from simplepose.errors import DataError

_JPEG_EXTS = (".jpg", ".jpeg", ".jpe", ".jfif")


def worker_init(worker_id: int) -> None:
    """DataLoader worker_init_fn: one torch thread per worker (the workers are the parallelism).

    OpenCV's thread count is deliberately not touched here: cv2.setNumThreads in a forked worker can
    deadlock on the thread pool inherited from the parent. Set it in the main process before the
    workers start (cv2.setNumThreads(1), as MMEngine does), or use a spawn/forkserver context.
    """
    torch.set_num_threads(1)


@contextmanager
def _stage(timings: dict[str, float] | None, name: str) -> Iterator[None]:
    """Add the wall time of the block to timings[name] (no-op when timings is None)."""
    if timings is None:
        yield
        return
    t0 = time.perf_counter()
    yield
    timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0


def _record(inst: PersonInstance) -> str:
    """Short name of an instance for error messages."""
    return f"ann_id={inst.ann_id}, image_id={inst.image_id}"


class TopDownDataset(Dataset):
    """Person instances -> dict of tensors for the top-down heatmap model.

    With region_decode (default) JPEGs are decoded only where the crop samples them, when the optional
    TurboJPEG library is present (simplepose.data.image.read_jpeg_region); the crop is bit-identical to
    the one from a full decode, and everything falls back to a full OpenCV decode otherwise.
    With image_cache_mb > 0 each process keeps that many megabytes of fully decoded frames
    (image.ImageCache) and crops from them: the same crops, no decode for a frame seen before; it
    pays when the frames fit and recur (several persons per frame, many epochs: the synthetic demo).

    Item keys: "inputs" (3, H, W) f32 normalised RGB, "heatmaps" (K, h, w) f32, "weights" (K,) f32,
    "center" (2,) f32, "scale" (2,) f32 (aspect-fixed input scale), "rotation" () f32 degrees,
    "index" () int64. Validation (train=False) applies no augmentation, as the reference.
    """

    def __init__(self, instances: Sequence[PersonInstance], schema: KeypointSchema,
                 input_size: Sequence[int] = (192, 256), heatmap_size: Sequence[int] = (48, 64),
                 train: bool = False, sigma: float = 2.0, aug: AugmentConfig = AugmentConfig(), seed: int = 0,
                 unbiased: bool = False, padding: float = 1.25, region_decode: bool = True,
                 image_cache_mb: float = 0) -> None:
        self.instances = list(instances)
        self.schema = schema
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        self.train = bool(train)
        self.aug = aug
        self.seed = int(seed)
        self.padding = float(padding)
        self.region_decode = bool(region_decode)      # decode only the JPEG part the crop samples
        self.image_cache = ImageCache(image_cache_mb) if image_cache_mb > 0 else None
        self.codec = MSRAHeatmap(self.input_size, self.heatmap_size, sigma=sigma, unbiased=unbiased)
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()

    # ------------------------------------------------------------------ epochs and randomness
    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random draws the next items use (shared with running workers)."""
        self._epoch[0] = int(epoch)

    @property
    def epoch(self) -> int:
        """The epoch currently selected by set_epoch (0 until set)."""
        return int(self._epoch[0])

    def augment_params(self, index: int) -> AugmentParams:
        """The draws of sample `index` in the current epoch (no augmentation when not training)."""
        if not self.train:
            return AugmentParams.none()
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        return sample_augment_params(rng, self.aug)

    # ------------------------------------------------------------------ samples
    def __len__(self) -> int:
        """Number of person instances."""
        return len(self.instances)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        s = self.load_sample(index)
        return {
            "inputs": normalise_crops(s["crop"])[0],
            "heatmaps": torch.from_numpy(s["heatmaps"]),
            "weights": torch.from_numpy(s["weights"]),
            "center": torch.from_numpy(s["center"]),
            "scale": torch.from_numpy(s["scale"]),
            "rotation": torch.tensor(float(s["rotation"]), dtype=torch.float32),
            "index": torch.tensor(int(index), dtype=torch.int64),
        }

    def _check(self, inst: PersonInstance) -> tuple[np.ndarray, np.ndarray]:
        """Validated keypoints (K, 2) f32 and visibility min(1, v) (K,) of an instance."""
        kp = np.asarray(inst.keypoints, dtype=np.float32)
        k = self.schema.num_keypoints
        if kp.ndim != 2 or kp.shape[0] != k or kp.shape[1] < 3:
            raise DataError(inst.image_path, f"keypoints must be ({k}, 3) x, y, v; got shape {kp.shape}",
                            record=_record(inst))
        if not np.isfinite(kp).all():
            raise DataError(inst.image_path, "keypoints contain NaN or infinity", record=_record(inst))
        return kp[:, :2], np.minimum(np.float32(1), kp[:, 2])

    def _box(self, inst: PersonInstance, image_wh: tuple[int, int]) -> np.ndarray:
        """The instance's reference box (4,) f32 xyxy, checked to be finite and non-empty."""
        b = np.asarray(inst.bbox_xywh, dtype=np.float64)
        if b.shape != (4,) or not np.isfinite(b).all():
            raise DataError(inst.image_path, f"bad bbox_xywh {inst.bbox_xywh!r}", record=_record(inst))
        box = inst.reference_box(image_wh)
        if not (box[2] > box[0] and box[3] > box[1]):
            where = "" if inst.is_detection else " after clipping to the image"
            raise DataError(inst.image_path, f"empty box{where}: xywh {b.tolist()}", record=_record(inst))
        return box

    def load_sample(self, index: int, params: AugmentParams | None = None,
                    timings: dict[str, float] | None = None) -> dict[str, np.ndarray]:
        """Sample `index` as numpy: crop (H, W, 3) uint8 BGR, heatmaps, weights, center, scale, rotation,
        input_keypoints (K, 2), reduce (the JPEG decode reduction used). `params` overrides the draws;
        `timings` (optional) accumulates seconds per stage: draws, geometry, decode, warp, target."""
        inst = self.instances[index]
        with _stage(timings, "draws"):
            params = self.augment_params(index) if params is None else params
        with _stage(timings, "geometry"):
            kp, vis = self._check(inst)
            path = os.fspath(inst.image_path)
            size = tuple(inst.image_size) if inst.image_size is not None else None
            img = None
            if size is None:
                size = probe_image_size(path)
        if size is None:                                    # unknown format: decode fully first
            with _stage(timings, "decode"):
                img = read_image(path)
            size = (img.shape[1], img.shape[0])
        with _stage(timings, "geometry"):
            box = self._box(inst, size)
            geo = sample_geometry(kp, vis, box, size[0], params, self.schema.flip_indices,
                                  self.schema.upper_body_ids, self.schema.lower_body_ids,
                                  self.input_size, self.aug, self.padding)
            reduce = 1
            if (img is None and self.train and self.aug.reduced_decode
                    and path.lower().endswith(_JPEG_EXTS)):
                reduce = choose_reduction(float(geo.scale[0]) / self.input_size[0], self.aug.max_reduce)
        if img is None and reduce == 1 and self.image_cache is not None:
            with _stage(timings, "decode"):
                img = self.image_cache.get(path, read_image)
        if img is None and self.region_decode and path.lower().endswith(_JPEG_EXTS):
            crop = self._region_crop(inst, path, size, geo, reduce, timings)
            if crop is not None:
                return self._finish(geo, crop, reduce, timings)
        if img is None:
            with _stage(timings, "decode"):
                img = read_image(path, reduce)
        self._check_size(inst, path, (img.shape[1], img.shape[0]), size, reduce)
        with _stage(timings, "warp"):
            m = image_sampling_matrix(geo.matrix, reduce, geo.flip, size[0], img.shape[1])
            crop = warp_image(img, m, self.input_size, mirror=geo.flip)
        return self._finish(geo, crop, reduce, timings)

    @staticmethod
    def _check_size(inst: PersonInstance, path: str, loaded_wh: tuple[int, int], size: tuple[int, int],
                    reduce: int) -> None:
        """DataError unless the decoded image (at 1/reduce) has the annotated size."""
        expect = (-(-size[0] // reduce), -(-size[1] // reduce))
        if tuple(loaded_wh) != expect:
            raise DataError(path, f"image is {loaded_wh[0]}x{loaded_wh[1]} (decoded at 1/{reduce}) but the "
                            f"annotation says {size[0]}x{size[1]}", record=_record(inst))

    def _region_crop(self, inst: PersonInstance, path: str, size: tuple[int, int], geo, reduce: int,
                     timings: dict[str, float] | None) -> np.ndarray | None:
        """The crop from a decode of only the sampled JPEG region; None when region decoding is unusable."""
        with _stage(timings, "warp"):
            loaded_w, loaded_h = -(-size[0] // reduce), -(-size[1] // reduce)
            m = image_sampling_matrix(geo.matrix, reduce, geo.flip, size[0], loaded_w)
            xy, alpha = sampling_maps(m, self.input_size, loaded_w if geo.flip else None)
            bounds = sampled_bounds(xy, loaded_w, loaded_h)
        if bounds is None:                              # the crop lies wholly outside the image
            return None
        with _stage(timings, "decode"):
            box = (bounds[0] * reduce, bounds[1] * reduce, bounds[2] * reduce, bounds[3] * reduce)
            got = read_jpeg_region(path, box, reduce)
        if got is None:
            return None
        region, origin, full_wh = got
        self._check_size(inst, path, full_wh, size, 1)
        with _stage(timings, "warp"):
            return remap_region(region, xy, alpha, origin)

    def _finish(self, geo, crop: np.ndarray, reduce: int, timings: dict[str, float] | None) -> dict[str, np.ndarray]:
        """The sample dict of a finished crop: adds the heatmap target."""
        with _stage(timings, "target"):
            heatmaps, weights = self.codec.encode(geo.input_keypoints, geo.visible)
        return {"crop": crop, "heatmaps": heatmaps, "weights": weights, "center": geo.center,
                "scale": geo.scale, "rotation": np.float32(geo.rotation),
                "input_keypoints": geo.input_keypoints, "reduce": np.int64(reduce)}
