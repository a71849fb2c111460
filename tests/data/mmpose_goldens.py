"""Shared readers of the MMPose 1.3.2 pipeline goldens (tests/data/test_transforms.py, test_augment.py, test_dataset.py)."""
from __future__ import annotations

import cv2
import numpy as np

from simplepose.data.augment import AugmentParams


def read(samples_dir, rel: str) -> np.ndarray:
    """A sample image (BGR uint8) by its path relative to the samples folder."""
    img = cv2.imread(str(samples_dir / rel))
    assert img is not None, rel
    return img


def scripted_params(meta: dict) -> AugmentParams:
    """The draws of one train_pipeline_scripted.json instance as explicit AugmentParams."""
    hb = list(meta["halfbody_rand"]) + [1.0] * (2 - len(meta["halfbody_rand"]))
    return AugmentParams(flip=bool(meta["flip"]), halfbody_gate=hb[0], halfbody_upper=hb[1],
                         truncnorm=np.asarray(meta["bboxtf_truncnorm"], np.float32),
                         gates=np.asarray(meta["bboxtf_rand"], np.float64))
