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


def test_live_table_shows_running_cells_first_and_is_bounded() -> None:
    trials = [(f"c{i}", f"cell={i}", 1, 2) for i in range(MAX_ROWS + 5)]
    p = StudyProgress("big", trials, "psds1", "max", clock=FakeClock())
    p.started_trial(f"c{MAX_ROWS + 3}")
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(p.render())
    text = out.getvalue()
    assert "study big: [0:00:00] 0/25 done, 1 running, 0 failed" in text
    rows = [line for line in text.splitlines() if "cell=" in line]
    assert len(rows) == MAX_ROWS and f"cell={MAX_ROWS + 3}" in rows[0]
    assert "... and 5 more cells (sedstudy status big lists all)" in text


def test_the_callback_pickles_without_its_live_display() -> None:
    from studies.callbacks import ProgressCallback

    callback = ProgressCallback({}, "psds1", lambda t: 1, live=True)
    callback._live = object()  # stands for a started rich Live (threads and the terminal)
    clone = pickle.loads(pickle.dumps(callback))
    assert clone._live is None and clone.want_live
