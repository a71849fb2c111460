"""Heatmap MSE loss with per-keypoint target weights (MMPose's KeypointMSELoss).

As the reference: the squared error of every heatmap pixel (times its keypoint's target weight
when use_target_weight), averaged over all N*K*h*w elements, so zero-weight keypoints still count
in the mean, then scaled by loss_weight.
"""
from __future__ import annotations

import torch
from torch import nn


class KeypointMSELoss(nn.Module):
    """mean((pred - target)^2 * weight) over N, K, h, w; weight (N, K) broadcast over pixels."""

    def __init__(self, use_target_weight: bool = True, loss_weight: float = 1.0) -> None:
        """Weight each keypoint's error by its target weight when use_target_weight; scale by loss_weight."""
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """pred, target (N, K, h, w); weights (N, K) -> scalar loss."""
        if pred.shape != target.shape:
            raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
        sq = (pred - target).square()
        if self.use_target_weight:
            if weights is None:
                raise ValueError("use_target_weight=True needs weights (N, K)")
            if weights.shape != pred.shape[:2]:
                raise ValueError(f"weights {tuple(weights.shape)} do not match heatmaps {tuple(pred.shape)}")
            sq = sq * weights[:, :, None, None].to(sq.dtype)
        return sq.mean() * self.loss_weight
