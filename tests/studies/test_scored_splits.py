"""A test or selection split missing a class is refused before any compute, by `sedstudy train` and by a study."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sed_core.config import config_from_dict
from sed_core.data.layout import SPLITS
from sed_core.errors import DataError
from sed_core.training.reporter import NullReporter
from sed_core.training.trainer import Trainer
from studies.definition import load_study
from studies.launcher import ensure_data


def without_class(dataset: Path, tmp_path: Path, split: str, label: str) -> Path:
    """A copy of `dataset` whose `split` has no event of `label` (its rows dropped)."""
    copy = tmp_path / "data"
    shutil.copytree(dataset, copy)
    tsv = SPLITS[split].tsv_path(copy)
    header, *rows = tsv.read_text().splitlines()
    kept = [row for row in rows if row.split("\t")[3:4] != [label]]
    assert len(kept) < len(rows)
    tsv.write_text("\n".join([header, *kept]) + "\n")
    return copy


def test_training_refuses_a_test_split_without_a_class(tiny_dataset: Path, tmp_path: Path) -> None:
    root = without_class(tiny_dataset, tmp_path, "validation", "Dog")
    config = config_from_dict({"preset": "tiny", "data": {"root": str(root)}, "output_dir": str(tmp_path / "run")})
    with pytest.raises(DataError, match=r"validation.tsv: split 'validation' \(the test split\) has no event of "
                                        r"class\(es\) Dog; PSDS and F1 are undefined"):
        Trainer(config, NullReporter())
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("split", "role"), [("synthetic_validation", "the selection split"),
                                             ("validation", "the test split")])
def test_a_study_refuses_it_at_launch_naming_the_file_and_cell(split: str, role: str, tiny_dataset: Path,
                                                              tmp_path: Path) -> None:
    root = without_class(tiny_dataset, tmp_path, split, "Cat")
    path = tmp_path / "study.yaml"
    path.write_text(f"name: s\nexperiment:\n  preset: tiny\n  data: {{root: {root}}}\n"
                    "design:\n  factors:\n    model.pooling: [attention, max]\nseeds: [1]\n")
    with pytest.raises(DataError, match=rf"study.yaml: cell model.pooling=attention: .*: "
                                        rf"split '{split}' \({role}\) has no event of class\(es\) Cat"):
        ensure_data(load_study(path, workdir=tmp_path))
