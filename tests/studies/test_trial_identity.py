"""A trial's id hashes what decides its numbers: the effective config, the data's and the checkpoint's content."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from sed_core.config import config_from_dict
from sed_core.data.synth import generate_dataset
from studies.store_relocation import relocate_moved_store
from studies.trial_identity import effective_config, legacy_trial_identity, trial_identity


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data") / "tiny"
    generate_dataset("tiny", root, seed=0)
    return root


def tiny(root: Path) -> object:
    return config_from_dict({"preset": "tiny", "data": {"root": str(root)}})


def test_the_data_counts_by_content_not_by_folder(tiny_data: Path, tmp_path: Path):
    copy = tmp_path / "elsewhere" / "renamed"
    shutil.copytree(tiny_data, copy)
    assert trial_identity(tiny(copy)) == trial_identity(tiny(tiny_data))
    assert str(tmp_path) not in str(effective_config(tiny(copy)))  # no path in what is hashed
    other = tmp_path / "other"
    generate_dataset("tiny", other, seed=1)  # another draw of the synthetic set: other clips
    assert trial_identity(tiny(other)) != trial_identity(tiny(tiny_data))
    # the old scheme hashed the path: the copy was another trial
    assert legacy_trial_identity(tiny(copy)) != legacy_trial_identity(tiny(tiny_data))


def test_a_desed_folder_counts_by_its_metadata_and_audio_listing(tiny_data: Path, tmp_path: Path):
    desed = tmp_path / "desed"
    shutil.copytree(tiny_data, desed)
    (desed / "manifest.json").unlink()  # no manifest: the DESED listing fingerprint
    moved = tmp_path / "moved_desed"
    shutil.copytree(desed, moved)
    assert trial_identity(tiny(moved)) == trial_identity(tiny(desed))
    wav = next((moved / "audio").rglob("*.wav"))
    wav.rename(wav.with_name("renamed_clip.wav"))  # the listing changes
    assert trial_identity(tiny(moved)) != trial_identity(tiny(desed))


def test_the_checkpoint_counts_by_its_sha256(tiny_data: Path, tmp_path: Path):
    first, copy, other = tmp_path / "a.pth", tmp_path / "b" / "renamed.pth", tmp_path / "c.pth"
    copy.parent.mkdir()
    first.write_bytes(b"weights")
    copy.write_bytes(b"weights")
    other.write_bytes(b"other weights")

    def with_checkpoint(path: Path):
        return config_from_dict({"preset": "tiny", "data": {"root": str(tiny_data)}, "model": {
            "backbone": {"name": "asit", "variant": "tiny", "checkpoint": str(path)}, "fusion": {"name": "concat"}}})

    assert trial_identity(with_checkpoint(first)) == trial_identity(with_checkpoint(copy))
    assert trial_identity(with_checkpoint(first)) != trial_identity(with_checkpoint(other))


def test_inert_and_execution_fields_leave_the_id_alone(tiny_data: Path):
    config = tiny(tiny_data)
    fusion = config.model.fusion.model_copy(update={"heads": 8})  # cnn_only reads no heads
    same = config.model_copy(update={"model": config.model.model_copy(update={"fusion": fusion}),
                                     "output_dir": Path("/somewhere/else")})
    assert trial_identity(same) == trial_identity(config)
    other_seed = config.model_copy(update={"seed": config.seed + 1})
    assert trial_identity(other_seed) != trial_identity(config)


def test_a_moved_local_store_points_to_its_new_artifact_folder(tmp_path: Path):
    old, new = tmp_path / "old", tmp_path / "new"
    (new / "mlartifacts").mkdir(parents=True)
    with sqlite3.connect(new / "mlflow.db") as db:
        db.execute("CREATE TABLE experiments (artifact_location TEXT)")
        db.execute("CREATE TABLE runs (artifact_uri TEXT)")
        db.execute("INSERT INTO experiments VALUES (?)", ((old / "mlartifacts").as_uri() + "/study",))
        db.execute("INSERT INTO runs VALUES (?)", ((old / "mlartifacts").as_uri() + "/study/abc/artifacts",))
        db.execute("INSERT INTO runs VALUES ('mlflow-artifacts:/elsewhere/artifacts')")
    message = relocate_moved_store(new)
    assert message is not None and str(new / "mlartifacts") in message
    with sqlite3.connect(new / "mlflow.db") as db:
        assert db.execute("SELECT artifact_location FROM experiments").fetchone()[0] == \
            (new / "mlartifacts").as_uri() + "/study"
        assert [r[0] for r in db.execute("SELECT artifact_uri FROM runs")] == [
            (new / "mlartifacts").as_uri() + "/study/abc/artifacts", "mlflow-artifacts:/elsewhere/artifacts"]
    assert relocate_moved_store(new) is None  # once
    (old / "mlartifacts").mkdir(parents=True)
    with sqlite3.connect(new / "mlflow.db") as db:  # a store whose recorded folder still exists is left alone
        db.execute("UPDATE experiments SET artifact_location = ?", ((old / "mlartifacts").as_uri() + "/study",))
    assert relocate_moved_store(new) is None
