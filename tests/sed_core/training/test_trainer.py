from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sed_core.config import config_from_dict
from sed_core.training.reporter import LoggingReporter
from sed_core.training.trainer import LAST_DIR, Trainer, fit


def tiny_config(root: Path, out: Path, **training):
    return config_from_dict({"preset": "tiny", "data": {"root": str(root)}, "output_dir": str(out),
                             "training": {"epochs": 2, "steps_per_epoch": 3, **training}})


class StepsToo(LoggingReporter):
    """A reporter with the optional per-step hook (sed_core.training.reporter.StepReporter)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[tuple[int, int, int]] = []

    def step_done(self, epoch: int, step: int, steps: int) -> None:
        self.steps.append((epoch, step, steps))


def test_fit_reports_each_epoch_then_final_metrics(tiny_dataset: Path, tmp_path: Path):
    reporter = StepsToo()
    result = fit(tiny_config(tiny_dataset, tmp_path / "run"), reporter)
    steps = [step for step, _ in reporter.history]
    assert steps == [0, 1, 1]
    assert reporter.steps == [(epoch, step, 3) for epoch in (0, 1) for step in (1, 2, 3)]
    epoch_metrics = reporter.history[0][1]
    assert {"train/loss", "train/loss_strong", "train/loss_weak", "train/loss_consistency",
            "val/synthetic_validation/intersection_f1"} <= set(epoch_metrics)
    final = reporter.history[-1][1]
    for name in ("psds1", "psds2", "collar_f1", "intersection_f1"):
        assert 0.0 <= final[name] <= 1.0
        assert final[name] == final[f"student/{name}"] and f"teacher/{name}" in final
    assert result.metrics == final
    assert (tmp_path / "run" / LAST_DIR / "state.pt").is_file()


def test_final_run_stores_what_recomputes_its_metrics(tiny_dataset: Path, tmp_path: Path):
    """Per-class PSDS, PSD-ROC curves, frame scores and the split's labels: the stored files alone give back the
    reported PSDS (what a report's bootstrap over clips relies on)."""
    import pandas as pd
    from sed_scores_eval.base_modules.io import read_sed_scores

    from sed_core.metrics.sed_metrics import compute_sed_metrics
    from sed_core.training.trainer import PSD_ROC_DIR, REFERENCE_DIR, SCORES_DIR

    config = tiny_config(tiny_dataset, tmp_path / "run")
    final = fit(config).metrics
    classes = config.data.classes
    assert {f"psds1/class/{c}" for c in classes} | {f"psds2/class/{c}" for c in classes} <= set(final)
    split = config.evaluation.test_split
    run = tmp_path / "run"
    for name in ("psds1", "psds2"):
        curve = pd.read_csv(run / PSD_ROC_DIR / f"{name}.tsv", sep="\t")
        assert list(curve.columns) == ["efpr", "tpr"] and curve["efpr"].is_monotonic_increasing
    scores = {p.stem: read_sed_scores(p) for p in sorted((run / SCORES_DIR / split).glob("*.tsv"))}
    events = pd.read_csv(run / REFERENCE_DIR / split / "ground_truth.tsv", sep="\t")
    durations = pd.read_csv(run / REFERENCE_DIR / split / "durations.tsv", sep="\t")
    truth = {clip: [] for clip in scores}
    for row in events.itertuples(index=False):
        truth[row.filename.removesuffix(".wav")].append((row.onset, row.offset, row.event_label))
    again = compute_sed_metrics(scores, truth, dict(zip(durations["filename"], durations["duration"])),
                                classes=classes)
    assert again.psds1 == pytest.approx(final["psds1"], abs=1e-6)
    assert again.per_class_psds["psds2"] == pytest.approx(
        {c: final[f"psds2/class/{c}"] for c in classes}, abs=1e-6)


def test_resume_midway_gives_bit_identical_results(tiny_dataset: Path, tmp_path: Path):
    straight = fit(tiny_config(tiny_dataset, tmp_path / "straight"))
    fit(tiny_config(tiny_dataset, tmp_path / "resumed", epochs=1))  # stops after epoch 0, as if interrupted
    resumed = fit(tiny_config(tiny_dataset, tmp_path / "resumed"))
    assert resumed.history == straight.history
    assert resumed.metrics == straight.metrics
    a = torch.load(tmp_path / "straight" / LAST_DIR / "state.pt", weights_only=True)["student"]
    b = torch.load(tmp_path / "resumed" / LAST_DIR / "state.pt", weights_only=True)["student"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_last_folder_without_its_state_starts_afresh(tiny_dataset: Path, tmp_path: Path):
    """A trial killed after creating last/ and before renaming its first state.pt into place (seen in CI: a
    driver killed mid-study) leaves last/ with at most state.pt.tmp; running it again trains from epoch 0."""
    straight = fit(tiny_config(tiny_dataset, tmp_path / "straight"))
    killed = tmp_path / "killed" / LAST_DIR
    killed.mkdir(parents=True)
    (killed / "state.pt.tmp").write_bytes(b"half a pickle")
    again = fit(tiny_config(tiny_dataset, tmp_path / "killed"))
    assert again.history == straight.history
    assert not (killed / "state.pt.tmp").exists() and (killed / "state.pt").is_file()


def test_resume_refuses_a_checkpoint_of_another_config(tiny_dataset: Path, tmp_path: Path):
    from sed_core.errors import CheckpointError

    fit(tiny_config(tiny_dataset, tmp_path / "run", epochs=1))
    other = config_from_dict({"preset": "tiny", "data": {"root": str(tiny_dataset)},
                              "output_dir": str(tmp_path / "run"),
                              "training": {"epochs": 2, "steps_per_epoch": 3}, "model": {"pooling": "max"}})
    with pytest.raises(CheckpointError, match="model.pooling"):
        Trainer(other, LoggingReporter()).fit()


def test_training_lowers_the_supervised_loss(tiny_dataset: Path, tmp_path: Path):
    cfg = tiny_config(tiny_dataset, tmp_path / "run", epochs=6, steps_per_epoch=4)
    result = fit(cfg)
    losses = [h["train/loss_strong"] for h in result.history]
    assert losses[-1] < losses[0]


def test_missing_dataset_fails_before_training_with_the_fix(tmp_path: Path):
    from sed_core.errors import DataError

    with pytest.raises(DataError, match="sedstudy synth"):
        Trainer(tiny_config(tmp_path / "nowhere", tmp_path / "run"), LoggingReporter())


def test_teacher_mode_and_ema_buffers_are_named_choices(tiny_dataset: Path, tmp_path: Path):
    paper = Trainer(tiny_config(tiny_dataset, tmp_path / "a"), LoggingReporter())
    batch = next(iter(paper.loader))
    paper.train_step(batch)
    assert paper.teacher.training  # DESED_task: the teacher runs with dropout on
    fixed = Trainer(tiny_config(tiny_dataset, tmp_path / "b", teacher_mode="eval", ema_buffers=True),
                    LoggingReporter())
    fixed.train_step(batch)
    assert not fixed.teacher.training
    # with buffers averaged, the first update (decay 0) copies the student's BatchNorm statistics
    bn = "cnn.cnn.batchnorm0.running_mean"
    assert torch.equal(fixed.teacher.state_dict()[bn], fixed.student.state_dict()[bn])
