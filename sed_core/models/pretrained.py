"""Starting weights of the SSL branch: the official checkpoint named in ``model.backbone.checkpoint``."""
from __future__ import annotations

import logging
from pathlib import Path

from torch import nn

from sed_core.config.schema import ExperimentConfig
from sed_core.errors import ConfigError

logger = logging.getLogger(__name__)


def pretrained_checkpoint(config: ExperimentConfig) -> Path | None:
    """The backbone checkpoint this run starts from, checked to exist; None when there is none to load."""
    bcfg = config.model.backbone
    if not bcfg.enabled or bcfg.init == "random":
        return None
    if bcfg.checkpoint is None:
        raise ConfigError(
            f"model.backbone.checkpoint: the {bcfg.name} backbone starts from its official pre-trained weights, "
            f"but no checkpoint is set; give the local path of the official checkpoint (e.g. "
            f"--set model.backbone.checkpoint=/models/ASiT_16kHz.pth), or set model.backbone.init=random to train "
            f"it from scratch (not the paper), or model.backbone.name=none with model.fusion.name=cnn_only for "
            f"the CRNN baseline"
        )
    path = Path(bcfg.checkpoint)
    if not path.is_file():
        raise ConfigError(f"model.backbone.checkpoint: {path} does not exist (or is not a file); give the local "
                          f"path of the official {bcfg.name} checkpoint")
    return path


def load_pretrained(model: nn.Module, config: ExperimentConfig) -> None:
    """Load the backbone's official weights into ``model`` when the config asks for them."""
    path = pretrained_checkpoint(config)
    if path is not None:
        model.backbone.load_official(path)
        logger.info("backbone %s initialised from %s", config.model.backbone.name, path)
