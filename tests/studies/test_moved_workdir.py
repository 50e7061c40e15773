"""A finished study whose work directory moved and whose data folder was renamed: `sedstudy resume` finds every
trial finished (trial ids hash content, not paths), and its report is the same as before the move."""
from __future__ import annotations

import difflib
import shutil
import subprocess
from pathlib import Path

import pytest

from reports.build import build_report
from studies.launcher import run_study
from studies.tracking import default_tracking_uri
from tests.studies.conftest import four_trial_study, sedstudy, study_runs

STUDY = four_trial_study("moved", Path("data/tiny"))  # relative: resolved against the work directory


def report_files(workdir: Path, out: Path) -> dict[str, bytes]:
    paths = build_report(default_tracking_uri(workdir), "moved", out, clip_resamples=20)
    skipped = [note for note in paths.notes if "skipped" in note and "fewer than two factors" not in note]
    assert not skipped, skipped  # every artifact (frame scores, references) was read
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and ".cache" not in p.parts}  # a cache keyed by the store's state


@pytest.mark.integration
@pytest.mark.slow
def test_resume_after_a_move_and_a_renamed_data_folder_reruns_nothing(tmp_path: Path, in_process_ray):
    first = tmp_path / "first"
    first.mkdir()
    (first / "moved.yaml").write_text(STUDY)
    outcome = run_study(first / "moved.yaml", workdir=first)
    assert (outcome.ran, outcome.failed) == (4, 0)
    before = {run.data.tags["sedstudy.trial_id"] for run in study_runs(first, "moved", "trial")}
    report_before = report_files(first, tmp_path / "report_before")

    second = tmp_path / "mounted" / "elsewhere"
    second.parent.mkdir()
    shutil.move(first, second)
    (second / "data" / "tiny").rename(second / "data" / "tiny_v1")
    (second / "moved.yaml").write_text(STUDY.replace("data/tiny", "data/tiny_v1"))
    # a new process, as a user's resume is (this one's MLflow client remembers where each run's artifacts were)
    resumed = subprocess.run(sedstudy("resume", str(second / "moved.yaml"), "--workdir", str(second), "--no-report"),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    out = resumed.stdout
    assert "the work directory's store moved" in out
    assert "4 already finished, 0 to run" in out
    runs = study_runs(second, "moved", "trial")
    assert len(runs) == 4 and {run.info.status for run in runs} == {"FINISHED"}
    assert {run.data.tags["sedstudy.trial_id"] for run in runs} == before
    assert not first.exists()  # nothing was written to the old place
    after = report_files(second, tmp_path / "report_after")
    # the one change: the report names the store it read, which now lives in the new place
    old_uri, new_uri = default_tracking_uri(first).encode(), default_tracking_uri(second).encode()
    report_before = {name: data.replace(old_uri, new_uri) for name, data in report_before.items()}
    assert after.keys() == report_before.keys()
    changed = {name: "".join(difflib.unified_diff(report_before[name].decode(errors="replace").splitlines(True),
                                                  after[name].decode(errors="replace").splitlines(True), n=0))[:2000]
               for name in after if after[name] != report_before[name]}
    assert not changed, changed


@pytest.mark.integration
@pytest.mark.slow
def test_runs_recorded_under_the_path_based_ids_are_adopted(tmp_path: Path, in_process_ray,
                                                            capsys: pytest.CaptureFixture[str]):
    from studies.definition import load_study
    from studies.tracking import open_client
    from studies.trial_identity import legacy_trial_identity

    (tmp_path / "moved.yaml").write_text(STUDY)
    assert run_study(tmp_path / "moved.yaml", workdir=tmp_path).ran == 4
    study = load_study(tmp_path / "moved.yaml", workdir=tmp_path)
    legacy = {t.trial_id: legacy_trial_identity(t.config) for t in study.trials}
    client = open_client(default_tracking_uri(tmp_path))
    for run in study_runs(tmp_path, "moved", "trial"):  # the store as the first scheme wrote it
        client.set_tag(run.info.run_id, "sedstudy.trial_id", legacy[run.data.tags["sedstudy.trial_id"]])
    capsys.readouterr()

    outcome = run_study(tmp_path / "moved.yaml", workdir=tmp_path)
    assert (outcome.ran, outcome.skipped) == (0, 4)
    assert "4 trial run(s) recorded under the first trial-id scheme" in capsys.readouterr().out
    runs = study_runs(tmp_path, "moved", "trial")
    assert {r.data.tags["sedstudy.trial_id"]: r.data.tags["sedstudy.trial_id_legacy"] for r in runs} == legacy
