"""The dataset manifest (``manifest.json`` at the root): what was built, how, and a sha256 per file.

Its identity (preset name and parameters, seed, generator version) decides whether an existing folder can be
reused as is, and the hashes let anyone verify the files later (``verify_files``).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sed_core.data.synth.presets import SynthPreset
from sed_core.data.synth.seeding import GENERATOR_VERSION
from sed_core.errors import DataError

MANIFEST_NAME = "manifest.json"
GENERATOR_NAME = "sedstudy.synth"
_IDENTITY_KEYS = ("generator", "generator_version", "preset", "seed", "parameters")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def identity(preset: SynthPreset, seed: int) -> dict[str, Any]:
    """The fields two builds must share to be the same dataset (JSON-normalised)."""
    return json.loads(
        json.dumps(
            {
                "generator": GENERATOR_NAME,
                "generator_version": GENERATOR_VERSION,
                "preset": preset.name,
                "seed": seed,
                "parameters": preset.parameters(),
            }
        )
    )


def encode_manifest(preset: SynthPreset, seed: int, splits: dict[str, Any], files: dict[str, str]) -> bytes:
    """The manifest's bytes: identity, per-split statistics, and {relative posix path: sha256} sorted by path."""
    manifest = identity(preset, seed) | {"splits": splits, "files": dict(sorted(files.items()))}
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")


def read_manifest(path: Path) -> dict[str, Any]:
    """Load a manifest, raising DataError if it is not one."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(
            f"{path}: cannot read the synthetic-dataset manifest ({err}); delete the folder to rebuild"
        ) from None
    missing = [k for k in (*_IDENTITY_KEYS, "files") if not isinstance(manifest, dict) or k not in manifest]
    if missing:
        raise DataError(
            f"{path}: not a synthetic-dataset manifest (missing {', '.join(missing)}); delete the folder to rebuild"
        )
    return manifest


def _describe(ident: dict[str, Any]) -> str:
    return f"preset {ident['preset']!r}, seed {ident['seed']}, generator v{ident['generator_version']}"


def check_existing(path: Path, preset: SynthPreset, seed: int) -> bool:
    """True when ``path`` holds the manifest of this very build; DataError when it holds another build's."""
    found = read_manifest(path)
    wanted = identity(preset, seed)
    found_ident = {k: found[k] for k in _IDENTITY_KEYS}
    if found_ident == wanted:
        return True
    changed = sorted(
        k
        for k in set(wanted["parameters"]) | set(found["parameters"])
        if wanted["parameters"].get(k) != found["parameters"].get(k)
    )
    detail = f"; parameters that differ: {', '.join(changed)}" if changed else ""
    raise DataError(
        f"{path}: the folder holds a synthetic dataset built with {_describe(found_ident)}, not the requested "
        f"{_describe(wanted)}{detail}; pass another --out or delete {path.parent} to rebuild"
    )


def verify_files(root: Path) -> list[str]:
    """Relative paths listed in ``root``'s manifest whose file is missing or whose sha256 differs (empty = intact)."""
    manifest = read_manifest(root / MANIFEST_NAME)
    bad = []
    for rel, digest in manifest["files"].items():
        path = root / rel
        if not path.is_file() or sha256_bytes(path.read_bytes()) != digest:
            bad.append(rel)
    return bad
