"""What a running study's driver shows: cells done / running / failed, the best result so far and the time left.

`StudyProgress` is the state the Tune callback keeps; `render` draws it as a rich table (the live view on a
terminal), `summary` as one line (logs, CI, anything that is not a terminal).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text

from studies.step_progress import StepProgress

MAX_ROWS = 20  # cells shown in the live table, in a fixed order: the baseline, then plan order
LEFT_EVERY_S = 1.0  # the shown estimate of the time left is recomputed at most this often


@dataclass
class CellProgress:
    cell: str
    planned: int = 0
    finished: int = 0
    failed: int = 0
    running: set[str] = field(default_factory=set)
    best: float | None = None

    @property
    def todo(self) -> int:
        return max(self.planned - self.finished - self.failed - len(self.running), 0)


@dataclass
class Best:
    value: float
    cell: str
    seed: int


class StudyProgress:
    """Counts per cell, the best objective (by the study's mode) and an estimate of the time left.

    The time left is measured where it can be: each trial's epoch time (Tune's time of an epoch result after the
    trial's first, which also pays its start) or, before that, its measured step time x steps per epoch; trials
    not started yet take the mean of those; the sum of what is left is shared by the trials running at once.
    With nothing measured yet it falls back to elapsed / epochs done x epochs left (failed trials' epochs are not
    left)."""

    def __init__(self, study: str, trials: Iterable[tuple[str, str, int, int]], objective: str, mode: str,
                 clock: Callable[[], float] = time.monotonic, *, baseline: str | None = None,
                 split: str | None = None) -> None:
        """trials: (trial_id, cell, seed, epochs) of every trial this launch runs; ``baseline``: the cell listed
        first; ``split``: the split the objective is scored on, named beside its values."""
        self.study = study
        self.objective = objective
        self.mode = mode
        self.split = split
        self.clock = clock
        self.started = clock()
        self.cells: dict[str, CellProgress] = {}
        self.epochs_of: dict[str, int] = {}
        self.cell_of: dict[str, str] = {}
        self.epochs_done: dict[str, int] = {}
        self.epoch_s: dict[str, float] = {}  # measured seconds per epoch
        self.steps: dict[str, StepProgress] = {}  # progress within the current epoch
        self._reported: set[str] = set()  # trials with an epoch result in this launch
        self._left: tuple[float, float | None] | None = None  # (clock(), time_left()) as summary() last shown it
        self._totals: dict[str, int] | None = None  # totals, until a trial's state changes
        self.most_running = 0
        trials = list(trials)
        if baseline is not None:
            self.cells[baseline] = CellProgress(baseline)
        for trial_id, cell, _, epochs in trials:
            self.cells.setdefault(cell, CellProgress(cell)).planned += 1
            self.epochs_of[trial_id] = epochs
            self.cell_of[trial_id] = cell
        if baseline is not None and not self.cells[baseline].planned:
            del self.cells[baseline]  # finished before this launch
        self.best: Best | None = None

    def started_trial(self, trial_id: str) -> None:
        self.cells[self.cell_of[trial_id]].running.add(trial_id)
        self._totals = None
        self.most_running = max(self.most_running, self.totals["running"])

    def epoch_done(self, trial_id: str, epoch: int, seconds: float | None = None) -> None:
        """An epoch result; ``seconds``: how long the epoch took (not trusted for a trial's first result)."""
        self.epochs_done[trial_id] = max(self.epochs_done.get(trial_id, 0), epoch + 1)
        if seconds is not None and trial_id in self._reported:
            self.epoch_s[trial_id] = seconds
        self._reported.add(trial_id)
        self.steps.pop(trial_id, None)

    def step_done(self, trial_id: str, progress: StepProgress) -> None:
        if progress.epoch >= self.epochs_done.get(trial_id, 0):
            self.steps[trial_id] = progress

    def finished_trial(self, trial_id: str, seed: int, value: float | None) -> None:
        cell = self.cells[self.cell_of[trial_id]]
        cell.running.discard(trial_id)
        cell.finished += 1
        self._totals = None
        self.epochs_done[trial_id] = self.epochs_of[trial_id]
        self.steps.pop(trial_id, None)
        if value is not None:
            if cell.best is None or self._better(value, cell.best):
                cell.best = value
            if self.best is None or self._better(value, self.best.value):
                self.best = Best(value, cell.cell, seed)

    def failed_trial(self, trial_id: str) -> None:
        cell = self.cells[self.cell_of[trial_id]]
        cell.running.discard(trial_id)
        cell.failed += 1
        self._totals = None
        self.epochs_done[trial_id] = self.epochs_of[trial_id]  # nothing of it is left to run
        self.steps.pop(trial_id, None)

    def _better(self, value: float, than: float) -> bool:
        return value > than if self.mode == "max" else value < than

    @property
    def totals(self) -> dict[str, int]:
        """Trials planned, finished, running and failed; summed over the cells once per change of a trial's state
        (the summary shows them at every report, and a study may have thousands of cells)."""
        if self._totals is None:
            cells = self.cells.values()
            self._totals = {"planned": sum(c.planned for c in cells), "finished": sum(c.finished for c in cells),
                            "running": sum(len(c.running) for c in cells), "failed": sum(c.failed for c in cells)}
        return dict(self._totals)

    def elapsed(self) -> float:
        return self.clock() - self.started

    def measured_epoch_s(self, trial_id: str) -> float | None:
        if trial_id in self.epoch_s:
            return self.epoch_s[trial_id]
        steps = self.steps.get(trial_id)
        return None if steps is None or steps.step_s is None else steps.step_s * steps.steps

    def time_left(self) -> float | None:
        measured = {t: s for t in self.epochs_of if (s := self.measured_epoch_s(t)) is not None}
        if measured:
            typical = sum(measured.values()) / len(measured)
            left = 0.0
            for trial_id, epochs in self.epochs_of.items():
                remaining = epochs - self.epochs_done.get(trial_id, 0)
                steps = self.steps.get(trial_id)
                if steps is not None and remaining > 0:
                    remaining -= steps.step / max(steps.steps, 1)
                left += max(remaining, 0) * measured.get(trial_id, typical)
            return left / max(self.totals["running"], self.most_running, 1)
        done = sum(self.epochs_done.values())
        if not done:
            return None
        left = sum(self.epochs_of.values()) - done
        return self.elapsed() / done * max(left, 0)

    @property
    def objective_label(self) -> str:
        """The objective with its split, e.g. ``psds1 (validation)``."""
        return self.objective if not self.split else f"{self.objective} ({self.split})"

    def shown_time_left(self) -> float | None:
        """``time_left()``, recomputed at most once a second (``LEFT_EVERY_S``): it reads every trial, and the
        summary is shown at every trial's report."""
        now = self.clock()
        if self._left is None or now - self._left[0] >= LEFT_EVERY_S:
            self._left = (now, self.time_left())
        return self._left[1]

    def summary(self) -> str:
        t = self.totals
        left = self.shown_time_left()
        text = (f"[{clock_text(self.elapsed())}{'' if left is None else f', ~{clock_text(left)} left'}] "
                f"{t['finished']}/{t['planned']} done, {t['running']} running, {t['failed']} failed")
        if self.best is not None:
            text += f" | best {self.objective_label} {self.best.value:.3f} ({self.best.cell}, seed {self.best.seed})"
        return text

    def render(self) -> Table:
        """The live view: a header line of totals, best and time left, then one row per cell."""
        table = Table(title=Text(f"study {self.study}: " + self.summary(), justify="left"), title_justify="left",
                      expand=False)
        for name, justify in (("done", "right"), ("running", "right"), ("failed", "right"), ("todo", "right"),
                              ("now", "left"), (f"best {self.objective_label}", "right"), ("cell", "left")):
            table.add_column(name, justify=justify, no_wrap=name != "cell")
        cells = self.shown_cells()
        for c in cells:
            style = "bold" if c.running else ("red" if c.failed else None)
            table.add_row(f"{c.finished}/{c.planned}", str(len(c.running)), str(c.failed), str(c.todo),
                          self.now_text(c), "–" if c.best is None else f"{c.best:.3f}", c.cell, style=style)
        if len(self.cells) > len(cells):
            table.caption = (f"... and {len(self.cells) - len(cells)} more cells (sedstudy status {self.study} "
                             f"lists all)")
        return table

    def shown_cells(self) -> list[CellProgress]:
        """Rows in a fixed order (the baseline, then plan order); past MAX_ROWS the running cells and the baseline
        are kept, in that same order, and the rest fill up to MAX_ROWS."""
        cells = list(self.cells.values())
        if len(cells) <= MAX_ROWS:
            return cells
        keep = {c.cell for c in cells if c.running}
        keep.add(cells[0].cell)
        position = {c.cell: i for i, c in enumerate(cells)}
        keep = set(sorted(keep, key=position.__getitem__)[:MAX_ROWS])
        for c in cells:
            if len(keep) >= MAX_ROWS:
                break
            keep.add(c.cell)
        return [c for c in cells if c.cell in keep]

    def now_text(self, cell: CellProgress) -> str:
        """Where the cell's first running trial is: ``epoch 3/200 step 41/98``."""
        for trial_id in sorted(cell.running):
            epoch = self.epochs_done.get(trial_id, 0)
            text = f"epoch {min(epoch + 1, self.epochs_of[trial_id])}/{self.epochs_of[trial_id]}"
            steps = self.steps.get(trial_id)
            return text + ("" if steps is None else f" step {steps.step}/{steps.steps}")
        return ""


def clock_text(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
