"""A local cache of a study's fetched trial table, keyed by study and the trial runs' last-update stamp.

One pickle file per (tracking URI, study) under the cache folder; it holds the key it was written under and is
used only when the key matches exactly. The cache is the user's own (a report's output folder by default):
a pickle, so never point `cache_dir` at files from elsewhere.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import re
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when the cached payload's layout changes


def cache_key(*, tracking_uri: str, study: str, parent_run_id: str, parent_tags: dict[str, str],
              fingerprint: str, wanted: object) -> str:
    """sha256 over everything the cached payload depends on."""
    text = json.dumps({"format": CACHE_FORMAT, "uri": tracking_uri, "study": study, "parent": parent_run_id,
                       "tags": sorted(parent_tags.items()), "stamp": fingerprint, "wanted": repr(wanted)},
                      sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_path(cache_dir: Path, tracking_uri: str, study: str) -> Path:
    """`<cache_dir>/<study slug>-<hash of uri and study>.pkl`."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", study)[:60] or "study"
    digest = hashlib.sha256(f"{tracking_uri}\n{study}".encode()).hexdigest()[:12]
    return Path(cache_dir) / f"{slug}-{digest}.pkl"


def read_cache(path: Path, key: str) -> Any | None:
    """The payload stored under `key`, or None (no file, another key, or an unreadable file)."""
    if not path.is_file():
        return None
    try:
        with path.open("rb") as handle:
            stored = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as error:
        logger.warning("report cache %s is unreadable (%s); reading the tracking store", path, error)
        return None
    if not isinstance(stored, dict) or stored.get("key") != key:
        return None
    return stored["payload"]


def write_cache(path: Path, key: str, payload: Any) -> None:
    """Store `payload` under `key`, atomically (a temporary file renamed over the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as handle:
        pickle.dump({"key": key, "payload": payload}, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
