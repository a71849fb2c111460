"""The deterministic epoch sampler, batches per epoch, and the dataset-name dispatch."""
from __future__ import annotations

import pytest

from simplepose.engine.config import DATASETS, Config, apply_overrides
from simplepose.engine.data import DATASET_READERS, EpochSampler, iters_per_epoch
from simplepose.errors import ConfigError


def test_sampler_shards_and_resumes():
    n, world = 10, 2
    full = [i for _, i in EpochSampler(n, epoch=3, seed=7)]
    assert sorted(full) == list(range(n))
    assert full != [i for _, i in EpochSampler(n, epoch=4, seed=7)]
    shards = [[i for _, i in EpochSampler(n, 3, 7, rank=r, world_size=world)] for r in range(world)]
    assert shards[0] == full[0::2] and shards[1] == full[1::2]
    # batch b of a 2-process run (batch 2 each) = batch b of one process (batch 4)
    for b in range(2):
        assert sorted(shards[0][2 * b:2 * b + 2] + shards[1][2 * b:2 * b + 2]) == sorted(full[4 * b:4 * b + 4])
    # resume: start skips samples of this rank's share
    assert [i for _, i in EpochSampler(n, 3, 7, start=4)] == full[4:]
    # round-up padding (MMEngine DefaultSampler): 7 samples on 2 ranks -> 4 each, first repeated
    padded = [[i for _, i in EpochSampler(7, 0, 0, shuffle=False, rank=r, world_size=2)] for r in range(2)]
    assert padded == [[0, 2, 4, 6], [1, 3, 5, 0]]
    assert iters_per_epoch(7, 2, 2) == 2 and iters_per_epoch(100, 8, 1) == 13 and iters_per_epoch(100, 8, 1, 5) == 5


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(ConfigError, match=r"\(data\.dataset\): data\.dataset must be one of posetrack18, coco, "
                                          r"got 'mpii'"):
        apply_overrides(Config(), ["data.dataset=mpii"])    # refused at load time, before any data
    assert sorted(DATASET_READERS) == sorted(DATASETS) == ["coco", "posetrack18"]
