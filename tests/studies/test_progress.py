"""The progress a study's driver shows: counts per cell, best so far by the objective's mode, time left."""
from __future__ import annotations

import io
import pickle

from rich.console import Console

from studies.progress import MAX_ROWS, StudyProgress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def progress(mode: str = "max", clock=None) -> StudyProgress:
    trials = [(f"{cell}-{seed}", cell, seed, 4) for cell in ("a=1", "a=2") for seed in (1, 2)]
    return StudyProgress("demo", trials, "psds1", mode, clock=clock or FakeClock())


def test_counts_best_and_time_left() -> None:
    clock = FakeClock()
    p = progress(clock=clock)
    assert p.time_left() is None and p.totals == {"planned": 4, "finished": 0, "running": 0, "failed": 0}
    p.started_trial("a=1-1")
    p.started_trial("a=2-1")
    for epoch in range(4):
        p.epoch_done("a=1-1", epoch)
    clock.now += 40  # 4 epochs of 16 in 40 s: 12 left take 120 s
    assert p.time_left() == 120
    p.finished_trial("a=1-1", 1, 0.30)
    p.failed_trial("a=2-1")  # its 4 epochs are no longer left: 8 of 16 left after 8 counted
    assert p.time_left() == 40
    assert p.totals == {"planned": 4, "finished": 1, "running": 0, "failed": 1}
    assert p.cells["a=2"].todo == 1 and p.cells["a=1"].todo == 1
    p.started_trial("a=1-2")
    p.finished_trial("a=1-2", 2, 0.40)
    assert (p.best.value, p.best.cell, p.best.seed) == (0.40, "a=1", 2)
    assert p.summary() == "[0:00:40, ~0:00:13 left] 2/4 done, 0 running, 1 failed | best psds1 0.400 (a=1, seed 2)"


def test_best_follows_the_objective_mode() -> None:
    p = progress(mode="min")
    p.finished_trial("a=1-1", 1, 0.30)
    p.finished_trial("a=2-2", 2, 0.10)
    p.finished_trial("a=1-2", 2, 0.20)
    assert (p.best.value, p.best.cell) == (0.10, "a=2") and p.cells["a=1"].best == 0.20


def rows_of(p: StudyProgress) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(p.render())
    return [next(w for w in line.split() if w.startswith("cell=")) for line in out.getvalue().splitlines()
            if line.startswith("│") and "cell=" in line]


def test_live_table_keeps_a_stable_order_baseline_first_and_is_bounded() -> None:
    trials = [(f"c{i}", f"cell={i}", 1, 2) for i in range(MAX_ROWS + 5)]
    p = StudyProgress("big", trials, "psds1", "max", clock=FakeClock(), baseline="cell=7")
    p.started_trial(f"c{MAX_ROWS + 3}")
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(p.render())
    text = out.getvalue()
    assert "study big: [0:00:00] 0/25 done, 1 running, 0 failed" in text
    rows = rows_of(p)
    assert len(rows) == MAX_ROWS and rows[0] == "cell=7" and rows[-1] == f"cell={MAX_ROWS + 3}"  # kept, in place
    assert rows[1:-1] == [f"cell={i}" for i in range(MAX_ROWS) if i != 7][:MAX_ROWS - 2]
    assert "... and 5 more cells (sedstudy status big lists all)" in text
    p.started_trial("c3")
    p.finished_trial(f"c{MAX_ROWS + 3}", 1, 0.5)
    assert rows_of(p)[:5] == ["cell=7", "cell=0", "cell=1", "cell=2", "cell=3"]  # running cells do not jump up


def test_time_left_from_measured_steps_then_epochs_and_the_split_is_named() -> None:
    from studies.step_progress import StepProgress

    clock = FakeClock()
    p = StudyProgress("demo", [("t1", "a=1", 1, 4), ("t2", "a=2", 1, 4)], "psds1", "max", clock=clock,
                      split="validation")
    p.started_trial("t1")
    p.started_trial("t2")
    clock.now += 300  # start-up (Ray, imports, data) is not a step: the old guess would count it
    p.step_done("t1", StepProgress(epoch=0, step=5, steps=10, step_s=2.0))
    # t1: 3.5 epochs left x 20 s; t2 (nothing measured) 4 x the mean 20 s; 2 trials at once
    assert p.time_left() == (3.5 * 20 + 4 * 20) / 2
    p.epoch_done("t1", 0, seconds=90.0)  # a trial's first epoch result also pays its start: not its epoch time
    p.epoch_done("t1", 1, seconds=30.0)
    assert p.time_left() == (2 * 30 + 4 * 30) / 2
    p.finished_trial("t1", 1, 0.25)
    assert p.summary().endswith("best psds1 (validation) 0.250 (a=1, seed 1)")


def test_live_table_shows_the_step_within_the_epoch() -> None:
    from studies.step_progress import StepProgress

    p = StudyProgress("demo", [("t1", "a=1", 1, 4)], "psds1", "max", clock=FakeClock(), split="validation")
    p.started_trial("t1")
    p.step_done("t1", StepProgress(epoch=0, step=41, steps=98, step_s=None))
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(p.render())
    assert "epoch 1/4 step 41/98" in out.getvalue() and "best psds1 (validation)" in out.getvalue()


def test_step_progress_file_round_trip_is_throttled(tmp_path) -> None:
    from studies.step_progress import StepProgress, StepProgressWriter, read_step_progress

    clock = FakeClock()
    writer = StepProgressWriter(tmp_path, interval_s=1.0, clock=clock)
    assert read_step_progress(tmp_path) is None
    writer.step_done(0, 1, 10)
    assert read_step_progress(tmp_path) == StepProgress(0, 1, 10, None)
    clock.now += 0.5
    writer.step_done(0, 2, 10)  # within the interval: not written
    assert read_step_progress(tmp_path).step == 1
    clock.now += 1.0
    writer.step_done(0, 3, 10)
    assert read_step_progress(tmp_path) == StepProgress(0, 3, 10, 0.75)  # 1.5 s over 2 steps after the first
    writer.step_done(0, 10, 10)  # an epoch's last step is always written
    assert read_step_progress(tmp_path).step == 10


def test_epoch_lines_name_the_split_of_every_number() -> None:
    from studies.callbacks import epoch_metrics_text

    text = epoch_metrics_text({"train/loss": 0.4123, "val/synthetic_validation/intersection_f1": 0.3181,
                               "step": 3, "time_this_iter_s": 2.0})
    assert text == "train loss=0.412 synthetic_validation intersection_f1=0.318"


def test_the_callback_pickles_without_its_live_display() -> None:
    from studies.callbacks import ProgressCallback

    callback = ProgressCallback({}, "psds1", lambda t: 1, live=True)
    callback._live = object()  # stands for a started rich Live (threads and the terminal)
    clone = pickle.loads(pickle.dumps(callback))
    assert clone._live is None and clone.want_live


def test_the_live_table_and_log_lines_show_display_names(tmp_path, capsys) -> None:
    from studies.callbacks import ProgressCallback
    from studies.definition import load_study

    path = tmp_path / "s.yaml"
    path.write_text("name: s\nexperiment: {preset: tiny, data: {root: data}}\ndesign:\n  factors:\n"
                    "    model.pooling: [attention, max]\n    training.mixup.probability: [0.5, 0.0]\n"
                    "  baseline: {training.mixup.probability: 0.0}\n"
                    "display: {factors: {training.mixup.probability: mixup}}\nseeds: [1]\n")
    study = load_study(path, workdir=tmp_path)
    trials = {t.trial_id: t for t in study.trials}
    callback = ProgressCallback(trials, "psds1", lambda t: 2, live=False, baseline=study.baseline.id,
                                cell_names=study.display_record()["cells"])
    out = io.StringIO()
    Console(file=out, width=200).print(callback.progress.render())
    rows = [line for line in out.getvalue().splitlines() if "pooling=" in line]
    assert "│ pooling=attention, mixup=0.0 " in rows[0]  # the baseline first, by its short name
    assert "model.pooling" not in out.getvalue() and len(rows) == 4
    first = study.trials[0]
    assert callback.name(first) == f"pooling={first.cell.levels[0][1]}, mixup={first.cell.levels[1][1]}"
