"""A constant-velocity Kalman filter on person boxes, batched over tracks (ByteTrack's / DeepSORT's model).

State (8,): box centre x, y, aspect ratio a = w / h, height h, and their velocities per frame.
Measurement (4,): cx, cy, a, h. Noise scales with the box height h (of the state for the
process noise, of the measurement for the first covariance): position std ``std_position`` x h,
velocity std ``std_velocity`` x h (ByteTrack: 1/20 and 1/160), the aspect ratio with fixed small
stds (1e-2 position, 1e-5 velocity, 1e-1 measurement), as the reference filter.

Every function takes and returns arrays for N tracks at once: means (N, 8), covariances (N, 8, 8),
measurements (N, 4); the per-track loop of the reference is one batched numpy call here.
"""
from __future__ import annotations

import numpy as np

DIM = 4


def xyxy_to_xyah(boxes: np.ndarray) -> np.ndarray:
    """Boxes (N, 4) x1, y1, x2, y2 -> (N, 4) centre x, centre y, w / h, h."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, w / np.maximum(h, 1e-6), h], 1)


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """(N, >=4) centre x, centre y, w / h, h -> boxes (N, 4) x1, y1, x2, y2."""
    m = np.asarray(xyah, np.float64).reshape(len(xyah), -1)
    h = m[:, 3]
    w = m[:, 2] * h
    return np.stack([m[:, 0] - w / 2, m[:, 1] - h / 2, m[:, 0] + w / 2, m[:, 1] + h / 2], 1)


class BoxKalman:
    """The filter's matrices and noise model; the state lives with the caller (means, covariances)."""

    def __init__(self, std_position: float = 1 / 20, std_velocity: float = 1 / 160):
        """std_position, std_velocity: noise stds as fractions of the box height."""
        self.wp, self.wv = float(std_position), float(std_velocity)
        self.motion = np.eye(2 * DIM)
        self.motion[:DIM, DIM:] = np.eye(DIM)                  # x' = x + v (one frame)

    def initiate(self, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New tracks from measurements (N, 4) xyah: means (N, 8) with zero velocity, covariances (N, 8, 8)."""
        z = np.asarray(measurements, np.float64).reshape(-1, DIM)
        h = z[:, 3]
        std = np.stack([2 * self.wp * h, 2 * self.wp * h, np.full_like(h, 1e-2), 2 * self.wp * h,
                        10 * self.wv * h, 10 * self.wv * h, np.full_like(h, 1e-5), 10 * self.wv * h], 1)
        cov = np.zeros((len(z), 2 * DIM, 2 * DIM))
        idx = np.arange(2 * DIM)
        cov[:, idx, idx] = std ** 2
        return np.concatenate([z, np.zeros_like(z)], 1), cov

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One frame ahead: means (N, 8), covariances (N, 8, 8) (new arrays)."""
        h = mean[:, 3]
        std = np.stack([self.wp * h, self.wp * h, np.full_like(h, 1e-2), self.wp * h,
                        self.wv * h, self.wv * h, np.full_like(h, 1e-5), self.wv * h], 1)
        f = self.motion
        new_mean = mean @ f.T
        new_cov = f @ cov @ f.T
        idx = np.arange(2 * DIM)
        new_cov[:, idx, idx] += std ** 2
        return new_mean, new_cov

    def update(self, mean: np.ndarray, cov: np.ndarray, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Corrected means (N, 8), covariances (N, 8, 8) given measurements (N, 4) xyah."""
        z = np.asarray(measurements, np.float64).reshape(-1, DIM)
        h = mean[:, 3]
        r = np.stack([self.wp * h, self.wp * h, np.full_like(h, 1e-1), self.wp * h], 1) ** 2     # (N, 4)
        s = cov[:, :DIM, :DIM].copy()                                                          # H P H^T
        idx = np.arange(DIM)
        s[:, idx, idx] += r
        pht = cov[:, :, :DIM]                                                                  # P H^T (N, 8, 4)
        gain = np.linalg.solve(s, pht.transpose(0, 2, 1)).transpose(0, 2, 1)                  # (N, 8, 4)
        innovation = z - mean[:, :DIM]
        new_mean = mean + np.einsum("nij,nj->ni", gain, innovation)
        new_cov = cov - gain @ s @ gain.transpose(0, 2, 1)
        return new_mean, new_cov
