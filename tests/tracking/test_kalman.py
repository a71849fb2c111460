"""The box Kalman filter against hand-computed predict and update numbers."""
from __future__ import annotations

import numpy as np
import pytest

from simplepose.tracking.kalman import BoxKalman, xyah_to_xyxy, xyxy_to_xyah


def test_box_conversions_by_hand() -> None:
    np.testing.assert_allclose(xyxy_to_xyah(np.array([[0, 0, 50, 100]])), [[25, 50, 0.5, 100]])
    np.testing.assert_allclose(xyah_to_xyxy(np.array([[25, 50, 0.5, 100, 7, 7, 7, 7]])), [[0, 0, 50, 100]])


def test_initiate_predict_update_by_hand() -> None:
    kf = BoxKalman(1 / 20, 1 / 160)
    mean, cov = kf.initiate(np.array([[25.0, 50.0, 0.5, 100.0]]))
    # h = 100: position std 2 h / 20 = 10, velocity std 10 h / 160 = 6.25, aspect 1e-2 and 1e-5
    np.testing.assert_allclose(mean, [[25, 50, 0.5, 100, 0, 0, 0, 0]])
    np.testing.assert_allclose(np.diag(cov[0]), [100, 100, 1e-4, 100, 39.0625, 39.0625, 1e-10, 39.0625])
    mean, cov = kf.predict(mean, cov)
    # x' = x + v: var 100 + 39.0625 + (h / 20)^2 = 164.0625; cov(x, v) = 39.0625; var(v) = 39.0625 + (h / 160)^2
    np.testing.assert_allclose(mean, [[25, 50, 0.5, 100, 0, 0, 0, 0]])
    assert cov[0, 0, 0] == pytest.approx(164.0625) and cov[0, 0, 4] == pytest.approx(39.0625)
    assert cov[0, 4, 4] == pytest.approx(39.453125)
    mean, cov = kf.update(mean, cov, np.array([[35.0, 50.0, 0.5, 100.0]]))
    # S = 164.0625 + (h / 20)^2 = 189.0625; gains 164.0625 / S (x) and 39.0625 / S (v); innovation 10
    assert mean[0, 0] == pytest.approx(25 + 10 * 164.0625 / 189.0625)
    assert mean[0, 4] == pytest.approx(10 * 39.0625 / 189.0625)
    assert mean[0, 1] == pytest.approx(50) and mean[0, 3] == pytest.approx(100)
    assert cov[0, 0, 0] == pytest.approx(164.0625 * 25 / 189.0625)


def test_tracks_are_filtered_independently_in_one_call() -> None:
    kf = BoxKalman()
    z = np.array([[25.0, 50.0, 0.5, 100.0], [300.0, 80.0, 0.4, 200.0]])
    mean, cov = kf.predict(*kf.initiate(z))
    both = kf.update(mean, cov, z + 5)
    for i in range(2):
        one = kf.update(mean[i:i + 1], cov[i:i + 1], z[i:i + 1] + 5)
        np.testing.assert_allclose(both[0][i], one[0][0])
        np.testing.assert_allclose(both[1][i], one[1][0])
    # constant motion: after a few frames the velocity is learned
    mean, cov = kf.initiate(z[:1])
    for t in range(1, 30):
        mean, cov = kf.predict(mean, cov)
        mean, cov = kf.update(mean, cov, z[:1] + [4.0 * t, 0, 0, 0])
    assert mean[0, 4] == pytest.approx(4.0, abs=0.05)
