"""A newcomer's first hour at the terminal: --version, study names or YAML paths for every verb that takes a study,
errors that name the override / study file / experiment field, and bad calls that fail before torch or Ray load."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from reports.contract import KIND_TAG, PLANNED_TRIALS_ARTIFACT, STUDY_TAG
from studies.cli import main

from .test_cli_and_definition import BASE, write

REPO = Path(__file__).resolve().parents[2]


def test_version_names_the_package(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("sedstudy 0.")


HEAVY = ("torch", "ray", "mlflow")
PROBE = """
import json, sys
from studies.cli import main
calls = json.loads(sys.argv[1])
seen = []
for argv in calls:
    try:
        code = main(argv)
    except SystemExit as done:
        code = done.code
    seen.append([argv[0], code, [m for m in {heavy!r} if m in sys.modules]])
print(json.dumps(seen))
"""


def test_bad_calls_fail_before_torch_ray_or_mlflow_are_imported(tmp_path: Path):
    """What a call imports is what makes it slow: none of these needs torch, Ray or MLflow to answer."""
    bad_level = write(tmp_path, BASE.replace("[attention, max]", "[attention, 3]").replace("model.pooling",
                                                                                           "training.epochs"))
    calls = [
        ["--version"],
        ["bogus-verb"],
        ["run", "--no-such-flag", str(bad_level)],
        ["run", "--dry-run", str(tmp_path / "missing.yaml")],
        ["validate", str(bad_level)],
        ["train", str(REPO / "studies" / "configs" / "quick.yaml"), "--set", "training.epochs=x"],
        ["model-info", "--set", "training.epochs=x"],
        ["status", str(tmp_path / "missing.yaml")],
        ["resume", str(tmp_path / "missing.yaml")],
        ["report", str(tmp_path / "missing.yaml")],
        ["evaluate", str(tmp_path / "missing.yaml"), "--split", "validation"],
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), json.dumps(calls)], capture_output=True,
                          check=False, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert [code for _, code, _ in seen] == [0] + [2] * (len(calls) - 1), done.stderr
    assert [(verb, imported) for verb, _, imported in seen if imported] == []


def test_set_error_names_the_override_not_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    config = write(tmp_path, "preset: tiny\n", "config.yaml")
    assert main(["train", str(config), "--set", "training.epochs=3", "--set", "training.epochs=x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --set training.epochs=x: training.epochs:") and str(config) not in err
    assert main(["model-info", "--set", "training.epoch=3"]) == 2
    assert "--set training.epoch=3: training.epoch: unknown key (did you mean 'training.epochs'?)" in \
        capsys.readouterr().err


def test_set_still_mends_a_file_and_file_errors_name_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    config = write(tmp_path, "preset: tiny\ntraining: {epochs: x}\n", "config.yaml")
    assert main(["model-info", str(config), "--set", "training.epochs=2", "--json"]) == 0
    capsys.readouterr()
    assert main(["model-info", str(config), "--set", "training.lr=1"]) == 2
    assert f"error: {config}: training.epochs:" in capsys.readouterr().err


def test_experiment_block_error_names_the_field_not_a_cell(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = write(tmp_path, BASE.replace("{preset: tiny}", "{preset: tiny, training: {epochs: many}}"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: experiment.training.epochs:" in err and "cell" not in err
    assert main(["validate", str(write(tmp_path, BASE.replace("{preset: tiny}", "{preset: tinny}")))]) == 2
    assert "experiment.preset: unknown preset 'tinny' (did you mean 'tiny'?)" in capsys.readouterr().err


def test_bad_factor_level_names_the_study_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = write(tmp_path, BASE.replace("[attention, max]", "[attention, maxx]"))
    assert main(["validate", str(path)]) == 2
    assert f"error: {path}: cell model.pooling=maxx: model.pooling: unknown weak pooling 'maxx'" in \
        capsys.readouterr().err
    assert main(["validate", str(write(tmp_path, BASE.replace("[attention, max]", "[max, max]")))]) == 2
    assert "design.factors.model.pooling: duplicate levels ['max']" in capsys.readouterr().err


def store_with_study(tmp_path: Path, name: str) -> str:
    """A store holding MLflow's Default experiment (created with the store), an experiment that is no study,
    and one study with a parent run and no trials yet."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    client.create_experiment("scratch", artifact_location=(tmp_path / "scratch").as_uri())
    experiment = client.create_experiment(name, artifact_location=(tmp_path / "art").as_uri())
    parent = client.create_run(experiment, tags={KIND_TAG: "study", STUDY_TAG: name}).info.run_id
    client.log_dict(parent, [{"cell": "model.pooling=attention", "seed": 1}], PLANNED_TRIALS_ARTIFACT)
    client.set_tag(parent, "sedstudy.objective", json.dumps({"metric": "psds1", "mode": "max"}))
    return uri


def test_status_takes_the_study_yaml_and_hints_close_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    uri = store_with_study(tmp_path, "pooling_study")
    path = write(tmp_path, BASE.replace("name: s", "name: pooling_study"))
    assert main(["status", str(path), "--tracking-uri", uri]) == 0
    assert capsys.readouterr().out.startswith("study pooling_study (running): 0 finished")
    for verb in (["status"], ["resume"], ["evaluate", "--split", "validation"]):
        assert main([verb[0], "pooling_studdy", *verb[1:], "--tracking-uri", uri]) == 2
        err = capsys.readouterr().err
        assert "(did you mean 'pooling_study'?)" in err, verb
        assert "studies there: 'pooling_study'." in err and "Default" not in err and "scratch" not in err, verb


def test_verbs_that_read_a_study_refuse_a_missing_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    for verb in (["status", "s"], ["resume", "s"], ["report", "s"], ["evaluate", "s", "--split", "validation"]):
        assert main([*verb, "--workdir", str(tmp_path / "elsewhere")]) == 2
        assert f"no tracking store at {tmp_path / 'elsewhere' / 'mlflow.db'}" in capsys.readouterr().err, verb
    assert not (tmp_path / "elsewhere").exists()  # nothing created
