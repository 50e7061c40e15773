"""`sedstudy postprocess` on a real tiny study: every stage from the stored scores, logged to the same runs; the
trained median filter reproduced from the raw scores; a run that would tune on its test split refused."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports.build import build_report
from reports.contract import POSTPROCESS_ARTIFACT, POSTPROCESS_TAG, postprocess_metric
from sed_core.errors import SedStudyError
from studies.cli import main
from studies.launcher import run_study
from studies.postprocess import postprocess
from studies.tracking import default_tracking_uri, open_client
from tests.studies.conftest import study_runs

STUDY = """
name: pp
experiment:
  preset: tiny
  data: {root: data/tiny}
  training: {epochs: 2, steps_per_epoch: 3}
synthetic_data: {preset: tiny, seed: 0}
design:
  factors:
    model.pooling: [attention, max]
seeds: [1]
"""


@pytest.mark.integration
@pytest.mark.slow
def test_the_stage_logs_every_stage_from_the_stored_scores(tmp_path: Path, in_process_ray,
                                                            capsys: pytest.CaptureFixture[str]):
    (tmp_path / "pp.yaml").write_text(STUDY)
    assert run_study(tmp_path / "pp.yaml", workdir=tmp_path).ran == 2
    uri = default_tracking_uri(tmp_path)
    client = open_client(uri)
    for run in study_runs(tmp_path, "pp", "trial"):  # what the trainer stored for the stage
        folders = {a.path for a in client.list_artifacts(run.info.run_id, "raw_scores")}
        assert folders == {"raw_scores/synthetic_validation", "raw_scores/validation"}

    before = build_report(uri, "pp", tmp_path / "report_before", clip_resamples=10)
    assert "Post-processing" not in before.markdown.read_text()  # an optional section: shown once there is data

    capsys.readouterr()
    assert main(["postprocess", "pp", "--workdir", str(tmp_path), "--windows", "1", "3", "7"]) == 0
    out = capsys.readouterr().out
    assert "2 run(s) post-processed (2 now, 0 already)" in out and "mean PSDS1: raw " in out
    for run in study_runs(tmp_path, "pp", "trial"):
        metrics = run.data.metrics
        for stage in ("raw", "median", "tuned_median", "pipsds"):
            for name in ("psds1", "psds2"):
                assert 0.0 <= metrics[postprocess_metric(stage, name)] <= 1.0
        assert 0.0 <= metrics[postprocess_metric("tuned_median", "psds1_t50")] <= 1.0
        # the trained filter, applied to the stored raw scores, gives what the trainer logged (the tiny set's clips
        # are full length: a shorter clip's edge frames were filtered with its padding by the trainer)
        assert metrics[postprocess_metric("median", "psds1")] == pytest.approx(metrics["psds1"], abs=1e-9)
        assert metrics[postprocess_metric("median", "psds2")] == pytest.approx(metrics["psds2"], abs=1e-9)
        # piPSDS takes the best window at every operating point: never below one window's PSDS
        assert metrics[postprocess_metric("pipsds", "psds1")] >= metrics[postprocess_metric("raw", "psds1")] - 1e-9
        settings = json.loads(run.data.tags[POSTPROCESS_TAG])
        assert (settings["tuned_on"], settings["applied_to"]) == ("synthetic_validation", "validation")
        local = client.download_artifacts(run.info.run_id, POSTPROCESS_ARTIFACT, str(tmp_path / run.info.run_id))
        windows = json.loads(Path(local).read_text())["windows"]
        assert set(windows) == {"psds1", "psds2"} and set(windows["psds1"].values()) <= {1, 3, 7}

    report = build_report(uri, "pp", tmp_path / "report", clip_resamples=10)
    text = report.markdown.read_text()
    section = text.split("## Post-processing", 1)[1].split("\n## ", 1)[0]
    assert "| cell | n | PSDS1 raw | PSDS1 trained median | PSDS1 tuned median | PSDS1 piPSDS |" in section
    assert "| PSDS2 tuned median |" in section  # a row of the stage-by-stage differences to the baseline
    assert "never on the test split" in section
    assert (report.out_dir / "postprocessing.csv").is_file()

    assert main(["postprocess", "pp", "--workdir", str(tmp_path)]) == 0  # done: skipped, nothing logged twice
    assert "2 run(s) post-processed (0 now, 2 already)" in capsys.readouterr().out
    run = study_runs(tmp_path, "pp", "trial")[0]
    assert len(client.get_metric_history(run.info.run_id, postprocess_metric("raw", "psds1"))) == 1

    # a run whose best epoch was chosen on its test split: tuning there would leak, so it is refused
    leaky = client.create_run(run.info.experiment_id, run_name="leaky").info.run_id
    config = json.loads(Path(client.download_artifacts(run.info.run_id, "config.json", str(tmp_path / "c")))
                        .read_text())
    config["evaluation"] |= {"selection_split": "validation", "select_on_test_split": True}
    client.log_dict(leaky, config, "config.json")
    client.set_terminated(leaky)
    with pytest.raises(SedStudyError, match=r"its selection split is its test split 'validation'"):
        postprocess(uri, leaky)


@pytest.mark.integration
@pytest.mark.slow
def test_run_postprocesses_before_the_report_when_the_study_asks(tmp_path: Path, in_process_ray,
                                                                 capsys: pytest.CaptureFixture[str]):
    (tmp_path / "pp.yaml").write_text(STUDY + "postprocess: {windows: [1, 3]}\n")
    assert main(["run", str(tmp_path / "pp.yaml"), "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.index("post-processing the finished trials of pp") < out.index("report: ")
    assert "2 run(s) post-processed (2 now, 0 already)" in out
    text = (tmp_path / "reports" / "pp" / "report.md").read_text()
    assert "| cell | n | PSDS1 raw | PSDS1 trained median | PSDS1 tuned median | PSDS1 piPSDS |" in text
    for run in study_runs(tmp_path, "pp", "trial"):
        windows = json.loads(run.data.tags[POSTPROCESS_TAG])["windows_frames"]
        assert windows == [1, 3]
