"""A content-addressed cache of frozen-backbone embeddings, shared by every trial that uses the same backbone.

A clip's entry is the FAP-pooled token sequence (T', D) of the backbone, keyed by a hash of the backbone's
weights, class and front-end settings (the namespace) and of the clip's samples. Entries are written to a
temporary file and renamed into place, so concurrent trials (and nodes sharing the folder) never read a partial
entry; two writers of the same entry write the same bytes.

Only a deterministic backbone may be cached: frozen for the whole run, in eval mode, and not reached by input
mixup (``cache_blockers`` says why not otherwise).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from sed_core.config.schema import ExperimentConfig


def cache_blockers(config: ExperimentConfig) -> list[str]:
    """Why this run's backbone outputs cannot be cached (empty: they can)."""
    bcfg, mixup = config.model.backbone, config.training.mixup
    reasons = []
    if not bcfg.enabled:
        return ["the model has no backbone"]
    if bcfg.freeze.schedule != "frozen":
        reasons.append(f"model.backbone.freeze.schedule is {bcfg.freeze.schedule!r}, not 'frozen'")
    if bcfg.mode != "eval":
        reasons.append("model.backbone.mode is 'train' (dropout / drop-path make each pass differ)")
    if mixup.probability > 0 and mixup.branches == "all":
        reasons.append("mixup reaches the SSL input (training.mixup.branches: all); use cnn_only or probability 0")
    return reasons


def backbone_namespace(backbone: nn.Module, clip_samples: int, frequency_pooling: str = "mean", *,
                       encoder_fp16: bool = False) -> str:
    """Hash of what determines a backbone's pooled output for a clip: class, front-end settings, weights, clip
    length, the frequency pooling rule and the encoder's precision."""
    digest = hashlib.sha256()
    if frequency_pooling != "mean":  # the mean's namespaces stay those caches were written under
        digest.update(f"pooling={frequency_pooling}|".encode())
    if encoder_fp16:  # likewise fp32's
        digest.update(b"encoder=fp16|")
    frontend = getattr(backbone, "frontend", None)
    digest.update(f"{type(backbone).__module__}.{type(backbone).__qualname__}|{clip_samples}|".encode())
    digest.update(repr(getattr(frontend, "spec", frontend)).encode())
    for name, tensor in backbone.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


class EmbeddingCache:
    """Token sequences per clip under ``root/<namespace>/``; counts what it computed and what it served."""

    def __init__(self, root: Path, namespace: str) -> None:
        self.dir = Path(root) / namespace
        self.dir.mkdir(parents=True, exist_ok=True)
        self.computed = 0
        self.served = 0

    def __deepcopy__(self, memo: dict) -> EmbeddingCache:
        return self  # the teacher and evaluation copies of a model share their student's cache

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.pt"

    @staticmethod
    def clip_key(waveform: torch.Tensor) -> str:
        return hashlib.sha256(waveform.detach().float().cpu().contiguous().numpy().tobytes()).hexdigest()

    def tokens(self, waveform: torch.Tensor, compute) -> torch.Tensor:
        """(B, S) -> (B, T', D): cached rows read, the others ``compute``d (on their waveforms) and stored."""
        keys = [self.clip_key(row) for row in waveform]
        rows: list[torch.Tensor | None] = []
        for key in keys:
            path = self._path(key)
            rows.append(torch.load(path, weights_only=True) if path.is_file() else None)
        missing = [i for i, row in enumerate(rows) if row is None]
        if missing:
            fresh = compute(waveform[missing]).detach().cpu()
            for i, tokens in zip(missing, fresh):
                rows[i] = tokens
                self._write(keys[i], tokens.clone())
            self.computed += len(missing)
        self.served += len(keys) - len(missing)
        return torch.stack(rows).to(waveform.device)

    def _write(self, key: str, tokens: torch.Tensor) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(tokens, f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
