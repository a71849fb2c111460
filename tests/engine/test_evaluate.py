"""The test loop's OKS-NMS areas: ground-truth boxes clipped to the image, detections as given."""
from __future__ import annotations

import numpy as np
import pytest

from simplepose.data.instances import PersonInstance
from simplepose.engine.evaluate import instance_box_areas


def _instance(box: list[float], size: tuple[int, int] | None) -> PersonInstance:
    return PersonInstance(image_path="x.jpg", image_id=1, bbox_xywh=np.array(box, np.float64),
                          keypoints=np.zeros((17, 3), np.float32), image_size=size)


def test_instance_box_areas_by_hand() -> None:
    gt = _instance([-10, 20, 50, 40], (100, 100))   # clipped to x 0..40, y 20..60: 40 x 40
    det = _instance([-10, 20, 50, 40], None)        # as given: 50 x 40
    areas = instance_box_areas([gt, det], 192 / 256)
    # padding 1.25 then the 0.75 aspect: 50 x 50 -> 50 x 66.67; 62.5 x 50 -> 62.5 x 83.33
    assert areas[0] == pytest.approx(50 * 50 / 0.75, rel=1e-6)
    assert areas[1] == pytest.approx(62.5 * 62.5 / 0.75, rel=1e-6)
