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

MAX_ROWS = 20  # cells shown in the live table: running ones first, then the rest in plan order


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
    """Counts per cell, the best objective (by the study's mode) and an estimate of the time left from the epochs
    done so far: elapsed / epochs done x epochs left (epochs of failed trials are not left)."""

    def __init__(self, study: str, trials: Iterable[tuple[str, str, int, int]], objective: str, mode: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """trials: (trial_id, cell, seed, epochs) of every trial this launch runs."""
        self.study = study
        self.objective = objective
        self.mode = mode
        self.clock = clock
        self.started = clock()
        self.cells: dict[str, CellProgress] = {}
        self.epochs_of: dict[str, int] = {}
        self.cell_of: dict[str, str] = {}
        self.epochs_done: dict[str, int] = {}
        for trial_id, cell, _, epochs in trials:
            self.cells.setdefault(cell, CellProgress(cell)).planned += 1
            self.epochs_of[trial_id] = epochs
            self.cell_of[trial_id] = cell
        self.best: Best | None = None

    def started_trial(self, trial_id: str) -> None:
        self.cells[self.cell_of[trial_id]].running.add(trial_id)

    def epoch_done(self, trial_id: str, epoch: int) -> None:
        self.epochs_done[trial_id] = max(self.epochs_done.get(trial_id, 0), epoch + 1)

    def finished_trial(self, trial_id: str, seed: int, value: float | None) -> None:
        cell = self.cells[self.cell_of[trial_id]]
        cell.running.discard(trial_id)
        cell.finished += 1
        self.epochs_done[trial_id] = self.epochs_of[trial_id]
        if value is not None:
            if cell.best is None or self._better(value, cell.best):
                cell.best = value
            if self.best is None or self._better(value, self.best.value):
                self.best = Best(value, cell.cell, seed)

    def failed_trial(self, trial_id: str) -> None:
        cell = self.cells[self.cell_of[trial_id]]
        cell.running.discard(trial_id)
        cell.failed += 1
        self.epochs_done[trial_id] = self.epochs_of[trial_id]  # nothing of it is left to run

    def _better(self, value: float, than: float) -> bool:
        return value > than if self.mode == "max" else value < than

    @property
    def totals(self) -> dict[str, int]:
        cells = self.cells.values()
        return {"planned": sum(c.planned for c in cells), "finished": sum(c.finished for c in cells),
                "running": sum(len(c.running) for c in cells), "failed": sum(c.failed for c in cells)}

    def elapsed(self) -> float:
        return self.clock() - self.started

    def time_left(self) -> float | None:
        done = sum(self.epochs_done.values())
        if not done:
            return None
        left = sum(self.epochs_of.values()) - done
        return self.elapsed() / done * max(left, 0)

    def summary(self) -> str:
        t = self.totals
        left = self.time_left()
        text = (f"[{clock_text(self.elapsed())}{'' if left is None else f', ~{clock_text(left)} left'}] "
                f"{t['finished']}/{t['planned']} done, {t['running']} running, {t['failed']} failed")
        if self.best is not None:
            text += f" | best {self.objective} {self.best.value:.3f} ({self.best.cell}, seed {self.best.seed})"
        return text

    def render(self) -> Table:
        """The live view: a header line of totals, best and time left, then one row per cell."""
        table = Table(title=Text(f"study {self.study}: " + self.summary(), justify="left"), title_justify="left",
                      expand=False)
        for name, justify in (("done", "right"), ("running", "right"), ("failed", "right"), ("todo", "right"),
                              (f"best {self.objective}", "right"), ("cell", "left")):
            table.add_column(name, justify=justify, no_wrap=name != "cell")
        cells = sorted(self.cells.values(), key=lambda c: not c.running)  # stable: running first, plan order
        for c in cells[:MAX_ROWS]:
            style = "bold" if c.running else ("red" if c.failed else None)
            table.add_row(f"{c.finished}/{c.planned}", str(len(c.running)), str(c.failed), str(c.todo),
                          "–" if c.best is None else f"{c.best:.3f}", c.cell, style=style)
        if len(cells) > MAX_ROWS:
            table.caption = f"... and {len(cells) - MAX_ROWS} more cells (sedstudy status {self.study} lists all)"
        return table


def clock_text(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
