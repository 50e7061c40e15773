"""Which code produced a run: the git commit of the sedstudy checkout and whether its tree was dirty."""
from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@lru_cache(maxsize=1)
def code_version() -> dict[str, str]:
    """Tags: ``sedstudy.code.commit`` (or "unknown" outside a git checkout), ``.dirty``, ``.version``."""
    try:
        package = version("sedstudy")
    except PackageNotFoundError:
        package = "unknown"
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"sedstudy.code.commit": commit or "unknown",
            "sedstudy.code.dirty": "unknown" if status is None else str(bool(status)).lower(),
            "sedstudy.code.version": package}
