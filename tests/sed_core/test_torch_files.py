"""Every tensor file sed_core reads fails with one kind of error that names the file and what it should hold."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sed_core.errors import CheckpointError
from sed_core.inference import read_checkpoint
from sed_core.models.backbones.official_checkpoint import read_checkpoint as read_official
from sed_core.torch_files import load_tensors


def test_an_empty_file_says_so_and_names_what_it_should_hold(tmp_path: Path) -> None:
    empty = tmp_path / "best_model.pt"
    empty.touch()
    with pytest.raises(CheckpointError, match=r"best_model.pt: the file is empty \(0 bytes.*expected a trainer "):
        read_checkpoint(empty)


def test_a_truncated_or_foreign_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.ones(3)}, path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CheckpointError, match=r"weights.pt: cannot read the official weights \("):
        read_official(path)
    with pytest.raises(CheckpointError, match=r"missing.pt: no such file; expected x; download it"):
        load_tensors(tmp_path / "missing.pt", "x", fix="download it")
    torch.save({"a": 1}, tmp_path / "ok.pt")
    assert load_tensors(tmp_path / "ok.pt", "x") == {"a": 1}
