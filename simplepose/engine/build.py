"""The model to train: SimpleBaseline as configured, its initial weights, and its BatchNorm mode.

Initialisation follows MMPose's configs: `load_from` loads a whole model (head included, strict, as
MMEngine's load_from), else `backbone_init` loads a backbone (e.g. torchvision's ImageNet ResNet, as
MMPose's init_cfg=dict(type='Pretrained')), else PyTorch's default initialisation.
"""
from __future__ import annotations

import logging

import torch
from torch import nn

from simplepose.engine.config import Config
from simplepose.errors import ConfigError
from simplepose.model.checkpoint import load_backbone_weights, load_checkpoint, load_state_dict_checked
from simplepose.model.pose_model import SimpleBaseline

log = logging.getLogger("simplepose.train")


def build_model(cfg: Config) -> nn.Module:
    """SimpleBaseline from the config, initialised from load_from (whole model) or backbone_init."""
    m = cfg.model
    model = SimpleBaseline(depth=m.depth, num_keypoints=m.num_keypoints,
                           deconv_channels=m.deconv_channels, num_deconv=m.num_deconv)
    if m.load_from:
        sd, _ = load_checkpoint(m.load_from)
        load_state_dict_checked(model, sd, strict=True, source=m.load_from)
        log.info("initialised the whole model from %s", m.load_from)
    elif m.backbone_init:
        load_backbone_weights(model, m.backbone_init)
        log.info("initialised the backbone from %s", m.backbone_init)
    return model


def channels_last(device: torch.device) -> bool:
    """Whether the model and its inputs use the channels_last layout: on the CPU (oneDNN is faster so)."""
    return device.type == "cpu"


def place_model(model: nn.Module, device: torch.device, sync_bn: bool) -> nn.Module:
    """The model on `device` in its layout (see channels_last), with SyncBatchNorm if `sync_bn`.

    SyncBatchNorm needs several processes on CUDA; callers ask for it only in a distributed job.
    """
    model = model.to(device)
    if channels_last(device):
        model = model.to(memory_format=torch.channels_last)
    if sync_bn:
        if device.type != "cuda":
            raise ConfigError(None, "SyncBatchNorm needs CUDA; on CPU use model.freeze_bn=true or plain BN",
                              key="model.sync_bn")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def freeze_batchnorm(model: nn.Module) -> None:
    """Put every BatchNorm in eval mode (running statistics used and frozen; affine still trained)."""
    for mod in model.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            mod.eval()
