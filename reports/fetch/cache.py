"""A local cache of a study's fetched trial table, keyed by study and the trial runs' last-update stamp.

One JSON file per (tracking URI, study) under the cache folder; it holds the key it was written under and is
used only when the key matches exactly. JSON, not pickle: reading a cache file runs no code, whoever wrote it.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from reports.fetch.records import TrialFetch, TrialRecord

logger = logging.getLogger(__name__)

CACHE_FORMAT = 2  # bump when the cached payload's layout changes (2: JSON, was a pickle)


def cache_key(*, tracking_uri: str, study: str, parent_run_id: str, parent_tags: dict[str, str],
              fingerprint: str, wanted: object) -> str:
    """sha256 over everything the cached payload depends on."""
    text = json.dumps({"format": CACHE_FORMAT, "uri": tracking_uri, "study": study, "parent": parent_run_id,
                       "tags": sorted(parent_tags.items()), "stamp": fingerprint, "wanted": repr(wanted)},
                      sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_path(cache_dir: Path, tracking_uri: str, study: str) -> Path:
    """`<cache_dir>/<study slug>-<hash of uri and study>.json`."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", study)[:60] or "study"
    digest = hashlib.sha256(f"{tracking_uri}\n{study}".encode()).hexdigest()[:12]
    return Path(cache_dir) / f"{slug}-{digest}.json"


def read_cache(path: Path, key: str) -> TrialFetch | None:
    """The trials stored under `key`, or None (no file, another key, or an unreadable file)."""
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(stored, dict) or stored.get("key") != key:
            return None
        return _decode(stored["payload"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        logger.warning("report cache %s is unreadable (%s); reading the tracking store", path, error)
        return None


def write_cache(path: Path, key: str, payload: TrialFetch) -> None:
    """Store `payload` under `key`, atomically (a temporary file renamed over the old one). The cache only saves
    time: a path that cannot be written (a file where its folder goes, no permission, a full disk) is a warning."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"key": key, "payload": _encode(payload)}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as error:
        logger.warning("report cache %s cannot be written (%s); the next report reads the tracking store again",
                       path, error)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _encode(fetch: TrialFetch) -> dict[str, Any]:
    # json keeps floats exactly (repr) and writes NaN / Infinity, which json.loads reads back
    return {"records": [{"run_id": r.run_id, "status": r.status, "start_time": r.start_time,
                         "end_time": r.end_time, "tags": dict(r.tags),
                         "metrics": dict(r.metrics), "params": dict(r.params)} for r in fetch.records],
            "history_keys": list(fetch.history_keys)}


def _decode(payload: dict[str, Any]) -> TrialFetch:
    records = tuple(TrialRecord(run_id=str(r["run_id"]), status=str(r["status"]), start_time=int(r["start_time"]),
                                tags={str(k): str(v) for k, v in r["tags"].items()},
                                metrics={str(k): float(v) for k, v in r["metrics"].items()},
                                params={str(k): str(v) for k, v in r["params"].items()},
                                end_time=int(r.get("end_time", 0)))
                    for r in payload["records"])
    return TrialFetch(records=records, history_keys=tuple(str(k) for k in payload["history_keys"]))
