"""A work directory's local store (``mlflow.db`` with its ``mlartifacts/`` beside it) that was moved.

MLflow records every artifact location as an absolute URI, so a moved, copied or remounted work directory leaves
its store pointing at folders that are gone. When the store's recorded artifact root no longer exists and the
work directory holds ``mlartifacts/``, the recorded locations (experiments and runs) are rewritten to it, once,
before anything reads or writes artifacts. Nothing else in the store changes.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from studies.tracking import default_tracking_uri

ARTIFACT_DIR = "mlartifacts"
STORE_FILE = "mlflow.db"


def local_store_uri(workdir: Path) -> str:
    """The tracking URI of ``workdir``'s own store, its artifact locations made to follow a move first."""
    message = relocate_moved_store(workdir)
    if message:
        print(message, flush=True)
    return default_tracking_uri(workdir)


def relocate_moved_store(workdir: Path) -> str | None:
    """Rewrite the artifact locations of ``workdir``'s store when it was moved; a line saying so, or None."""
    db, here = workdir / STORE_FILE, (workdir / ARTIFACT_DIR).resolve()
    if not db.is_file() or not here.is_dir():
        return None
    with sqlite3.connect(db) as connection:
        try:
            locations = [row[0] for row in connection.execute("SELECT artifact_location FROM experiments")]
        except sqlite3.OperationalError:  # not (yet) an MLflow store
            return None
        old_roots = {root for root in map(_artifact_root, locations) if root is not None}
        moved = sorted(r for r in old_roots if Path(_path_of(r)) != here and not Path(_path_of(r)).exists())
        for old in moved:
            new = here.as_uri() if old.startswith("file:") else str(here)
            for table, column in (("experiments", "artifact_location"), ("runs", "artifact_uri")):
                connection.execute(f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                                   f"WHERE substr({column}, 1, ?) = ?", (new, len(old) + 1, len(old), old))
    if not moved:
        return None
    return f"the work directory's store moved: its artifact locations now point to {here} (were {', '.join(moved)})"


def _artifact_root(location: str | None) -> str | None:
    """``file:///old/wd/mlartifacts`` of ``file:///old/wd/mlartifacts/study``; None for another layout."""
    if not location:
        return None
    marker = f"/{ARTIFACT_DIR}/"
    index = location.rfind(marker)
    return location[:index + len(marker) - 1] if index >= 0 else None


def _path_of(uri: str) -> str:
    return unquote(urlparse(uri).path) if uri.startswith("file:") else uri
