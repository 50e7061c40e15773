"""A trial's identity: a hash of what decides its numbers, never of where its files are.

What is hashed is the *effective* config: every field but the execution fields (where and how it runs) and the
fields that have no effect in it (``sed_core.config.acting``), with the two paths replaced by what they hold: the
data root by the fingerprint of the splits the trial reads (a synthetic set's manifest, or DESED's metadata and
audio listing) and the backbone checkpoint by its sha256. A study resumed from a moved work directory, another
mount point or another user's checkout, or with its data folder renamed, finds its finished trials.

A path that does not exist yet (a dry run before the data is generated) counts by its name, marked absent; the
launcher computes the ids again once the data is in place.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sed_core.config.acting import inert_reason
from sed_core.config.loading import flatten
from sed_core.config.schema import EXECUTION_FIELDS, ExperimentConfig
from sed_core.data.fingerprint import content_sha256
from sed_core.data.layout import SPLITS
from sed_core.data.synth.manifest import MANIFEST_NAME
from sed_core.training.required import required_splits

ID_DIGITS = 16
LEGACY_EXECUTION_FIELDS = ("output_dir", "training.device", "training.loader_workers", "evaluation.num_jobs")


def effective_config(config: ExperimentConfig) -> dict[str, Any]:
    """The dotted fields that decide a trial's numbers, paths replaced by their content's fingerprints."""
    flat = {k: v for k, v in flatten(config).items()
            if k not in EXECUTION_FIELDS and inert_reason(config, k) is None}
    flat["data.root"] = data_content_id(config)
    if "model.backbone.checkpoint" in flat and config.model.backbone.checkpoint is not None:
        flat["model.backbone.checkpoint"] = file_content_id(Path(config.model.backbone.checkpoint))
    return flat


def config_hash(config: ExperimentConfig) -> str:
    """sha256 of the effective config (seed included)."""
    return hashlib.sha256(json.dumps(effective_config(config), sort_keys=True).encode()).hexdigest()


def trial_identity(config: ExperimentConfig) -> str:
    """A trial's identity: the first 16 hex digits of its config hash."""
    return config_hash(config)[:ID_DIGITS]


def legacy_trial_identity(config: ExperimentConfig) -> str:
    """The identity of the first scheme (until 2026-12): the hash of every field but the execution fields, paths as
    resolved (absolute). Runs recorded under it are recognised from the work directory they ran in."""
    flat = {k: v for k, v in flatten(config).items() if k not in LEGACY_EXECUTION_FIELDS}
    return hashlib.sha256(json.dumps(flat, sort_keys=True).encode()).hexdigest()[:ID_DIGITS]


_CONTENT_IDS: dict[tuple[Path, tuple[str, ...], tuple[int, ...]], str] = {}


def data_content_id(config: ExperimentConfig) -> str:
    """``kind:sha256`` of the splits the trial reads (a synthetic set: its manifest, whatever the splits)."""
    root = Path(config.data.root)
    if not root.is_dir():
        return f"absent:{root.name}"
    names = tuple(required_splits(config))
    # computed once per process and state of the data (a study has thousands of trials): a synthetic set's
    # manifest, else the metadata files and audio folders the trial reads (clips added, removed or renamed change
    # a folder's time; a clip rewritten in place, at another size, is seen by the next process)
    manifest = root / MANIFEST_NAME
    if manifest.is_file():
        stat = manifest.stat()
        key = (root, (), (stat.st_size, stat.st_mtime_ns))
    else:
        watched = [p for name in names for p in (SPLITS[name].tsv_path(root), SPLITS[name].durations_path(root),
                                                 SPLITS[name].audio_path(root)) if p is not None]
        key = (root, names, tuple(p.stat().st_mtime_ns if p.exists() else -1 for p in watched))
    if key not in _CONTENT_IDS:
        _CONTENT_IDS[key] = ":".join(content_sha256(root, names))
    return _CONTENT_IDS[key]


def file_content_id(path: Path) -> str:
    """``sha256:...`` of a file (cached by path, size and modification time), or ``absent:NAME``."""
    from studies.provenance import checkpoint_sha256

    return f"sha256:{checkpoint_sha256(path)}" if path.is_file() else f"absent:{path.name}"
