from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ("tests.throwaway_parts",)  # fixtures registering a throwaway backbone, fusion, design, section

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def desed_metadata_dir() -> Path:
    """DESED's official metadata TSVs as shipped in the package (sed_core/data/desed_lists, MIT)."""
    from sed_core.data.official_lists import LISTS_DIR

    return LISTS_DIR


@pytest.fixture(scope="session")
def backbone_layouts_dir() -> Path:
    """Official architectures' state-dict keys, shapes and token grids, measured from the official code."""
    return REPO_ROOT / "tests" / "data" / "backbone_layouts"


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `tiny` synthetic dataset, built once per test session."""
    from sed_core.data.synth import generate_dataset

    root = tmp_path_factory.mktemp("synth") / "tiny"
    generate_dataset("tiny", root, seed=0)
    return root
