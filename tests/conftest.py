from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared/ folder: $SEDSTUDY_SHARED, or ../shared beside the repository."""
    path = Path(os.environ.get("SEDSTUDY_SHARED", REPO_ROOT.parent / "shared"))
    if not (path / "data" / "desed_metadata").is_dir():
        pytest.fail(f"shared/ with data/desed_metadata not found at {path}; set SEDSTUDY_SHARED to its path")
    return path


@pytest.fixture(scope="session")
def desed_metadata_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "desed_metadata"


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `tiny` synthetic dataset, built once per test session."""
    from sed_core.data.synth import generate_dataset

    root = tmp_path_factory.mktemp("synth") / "tiny"
    generate_dataset("tiny", root, seed=0)
    return root
