"""The data side of training and testing: person instances, datasets, samplers and loaders.

Sampling follows MMEngine's DefaultSampler: the order of epoch e is a permutation drawn from
seed + e, padded by repeating its start to a multiple of the world size (round_up=True, training) or
left unpadded (round_up=False, testing), and rank r takes every world_size-th sample from r on.
Each sample's augmentation is drawn from (seed, epoch, index) (TopDownDataset), and the loader's
keys are (epoch, index) pairs, so a run resumed mid-epoch sees the same batches whatever the number
of loader workers. Like MMEngine's default loader the last, smaller batch is kept (drop_last=False).
"""
from __future__ import annotations

import functools
import math
import multiprocessing
import os
import select
import threading
import time
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate, get_worker_info

from simplepose.data.annotations import load_image_records
from simplepose.data.dataset import TopDownDataset, worker_init
from simplepose.data.detections import load_detections
from simplepose.data.instances import PersonInstance
from simplepose.data.augment import AugmentConfig
from simplepose.engine.config import Config
from simplepose.engine.datasets import dataset_spec
from simplepose.errors import ConfigError, DataError, SimplePoseError

class EpochSampler(Sampler):
    """This rank's (epoch, index) pairs of one epoch, like MMEngine's DefaultSampler (round_up=True).

    The permutation comes from (seed, epoch); the padded list is split rank::world; `start` skips
    the first samples of this rank's share (resume mid-epoch).
    """

    def __init__(self, num_samples: int, epoch: int, seed: int = 0, shuffle: bool = True,
                 rank: int = 0, world_size: int = 1, start: int = 0, round_up: bool = True):
        """The sampler of `epoch` for process `rank` of `world_size`, from sample `start` of its share."""
        self.num_samples, self.epoch, self.seed, self.shuffle = num_samples, epoch, seed, shuffle
        self.rank, self.world_size, self.start, self.round_up = rank, world_size, start, round_up

    def indices(self) -> list[int]:
        """This rank's full share of the epoch, before skipping `start`."""
        n = self.num_samples
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=g).tolist()
        else:
            order = list(range(n))
        if self.round_up and n:
            total = math.ceil(n / self.world_size) * self.world_size
            order = (order * (total // n + 1))[:total]
        return order[self.rank::self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        """(epoch, index) for each sample of this rank's share from `start` on."""
        for i in self.indices()[self.start:]:
            yield (self.epoch, i)

    def __len__(self) -> int:
        """Samples left in this rank's share after `start`."""
        return max(0, len(self.indices()) - self.start)


class SeededDataset(Dataset):
    """Wraps a dataset whose draws are a function of (seed, epoch, index) so that items are keyed
    by (epoch, index) pairs from EpochSampler (the epoch travels with the index into every worker)."""

    def __init__(self, dataset: Dataset):
        """Wrap `dataset`; its set_epoch(e) is called when a key's epoch e differs from its `epoch`."""
        self.dataset = dataset

    def __len__(self) -> int:
        """Samples in the wrapped dataset."""
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int] | int) -> Any:
        """The wrapped dataset's item `index` as drawn in `epoch` (a bare index: epoch 0)."""
        epoch, index = key if isinstance(key, tuple) else (0, key)
        if getattr(self.dataset, "epoch", epoch) != epoch:
            self.dataset.set_epoch(epoch)  # type: ignore[attr-defined]
        if get_worker_info() is None:
            return self.dataset[index]
        try:
            return self.dataset[index]
        except SimplePoseError as e:
            # torch re-raises a worker's exception as a new one built from its traceback text;
            # returned as a value, the error itself reaches the main process (ErrorForwardingLoader)
            return WorkerFailure(e)


class WorkerFailure:
    """A SimplePoseError raised in a loader worker, carried to the main process as a batch."""

    def __init__(self, error: SimplePoseError):
        """Carry `error` (picklable with its fields: simplepose.errors)."""
        self.error = error


def collate(items: list[Any]) -> Any:
    """default_collate, or the first WorkerFailure among the items."""
    failure = next((x for x in items if isinstance(x, WorkerFailure)), None)
    return failure if failure is not None else default_collate(items)


class ErrorForwardingLoader(DataLoader):
    """A DataLoader that raises a worker's SimplePoseError in the main process as itself."""

    def __iter__(self) -> Iterator[Any]:
        """The batches; a WorkerFailure is raised as the error it carries."""
        for batch in super().__iter__():
            if isinstance(batch, WorkerFailure):
                raise batch.error
            yield batch


def iters_per_epoch(num_samples: int, batch_size: int, world_size: int, cap: int | None = None) -> int:
    """Batches per rank per epoch (last batch kept, as MMEngine's default), optionally capped."""
    iters = math.ceil(math.ceil(num_samples / world_size) / batch_size)
    return min(iters, cap) if cap else iters


def load_instances(cfg: Config, split: str, bbox_file: str | None = None) -> list[PersonInstance]:
    """Person instances of the train or val split (val: GT boxes, or detections from a bbox file)."""
    d = cfg.data
    ann = cfg.resolve(d.train_ann if split == "train" else d.val_ann)
    image_root = os.path.join(d.data_root, d.train_images if split == "train" else d.val_images)
    spec = dataset_spec(d.dataset)
    if cfg.name.startswith("synthetic") and not os.path.exists(ann):
        # the shipped synthetic configs name data that `simplepose synth` writes, not a download
        raise DataError(ann, f"not found: config '{cfg.name}' trains on synthetic data; write it first with "
                             f"`simplepose synth {d.data_root}` (or --set data.data_root=DIR)")
    instances = spec.reader(ann, image_root)
    if split != "train":
        bbox_file = bbox_file if bbox_file is not None else cfg.resolve(d.val_bbox_file)
        if bbox_file:
            images = load_image_records(ann, image_root)
            instances = load_detections(bbox_file, images, score_thr=d.bbox_score_thr)
    if not instances:
        raise DataError(ann, f"no person instances in the {split} split")
    return instances


def build_dataset(cfg: Config, instances: list[PersonInstance], train: bool) -> TopDownDataset:
    """TopDownDataset with the config's codec and augmentation."""
    d = cfg.data
    kwargs: dict[str, Any] = dict(input_size=tuple(d.input_size), heatmap_size=tuple(d.heatmap_size),
                                  train=train, sigma=d.sigma, seed=cfg.runtime.seed, image_cache_mb=d.image_cache_mb)
    if d.aug:
        aug = {k: tuple(v) if isinstance(v, list) else v for k, v in d.aug.items()}
        try:
            kwargs["aug"] = AugmentConfig(**aug)
        except TypeError as e:
            raise ConfigError(None, f"bad data.aug option: {e}", key="data.aug") from None
    return TopDownDataset(instances, dataset_spec(d.dataset).schema, **kwargs)


def calibration_crops(cfg: Config, count: int, seed: int = 0) -> np.ndarray:
    """`count` normalised crops (N, 3, H, W) float32 of random train-split persons (fewer if the split
    has fewer), cropped as the test loop crops them: no augmentation."""
    instances = load_instances(cfg, "train")      # raises DataError when the split has none
    dataset = build_dataset(cfg, instances, train=False)
    picks = np.random.default_rng(seed).choice(len(dataset), min(count, len(dataset)), replace=False)
    return torch.stack([dataset[int(i)]["inputs"] for i in picks]).numpy()


def _exit_with(pid: int) -> None:
    """Exit this process at once when process `pid` ends (pidfd where available, else 1 s polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):          # no pidfd (not Linux >= 5.3): poll the pid
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass
            time.sleep(1.0)
    select.select([fd], [], [])               # readable once the process has ended
    os._exit(1)


def _init_worker(worker_id: int, trainer_pid: int) -> None:
    """worker_init plus a watchdog that ends the worker with its trainer.

    Workers are children of the forkserver, which lives as long as any worker holds its "alive"
    pipe, so after a kill -9 of the trainer nothing else would end them (torch's own check watches
    the parent, i.e. the forkserver); once the workers exit, the forkserver and the resource tracker
    see their pipes close and exit too.
    """
    worker_init(worker_id)
    threading.Thread(target=_exit_with, args=(trainer_pid,), name="trainer-watchdog", daemon=True).start()


def make_loader(dataset: Dataset, batch_size: int, sampler: Sampler, workers: int,
                device: torch.device, persistent: bool = True) -> DataLoader:
    """A DataLoader whose workers (if any) come from a forkserver: no fork of a process whose
    OpenCV/OpenMP thread pools are running (a fork can deadlock the child), persistent across epochs,
    ending with this process even when it is killed (_init_worker)."""
    kwargs: dict[str, Any] = {}
    if workers > 0:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["torch", "cv2", "numpy", "simplepose.data.dataset"])
        kwargs = dict(multiprocessing_context=ctx, persistent_workers=persistent,
                      worker_init_fn=functools.partial(_init_worker, trainer_pid=os.getpid()))
    return ErrorForwardingLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                                 pin_memory=device.type == "cuda", drop_last=False, collate_fn=collate, **kwargs)
