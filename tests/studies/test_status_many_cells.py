"""`sedstudy status` on a sweep of thousands of cells lists what needs a look, not every cell."""
from __future__ import annotations

from studies.status import CellStatus, StudyStatus, format_status


def cell(name: str, best: float | None, **counts: int) -> CellStatus:
    c = CellStatus(name, planned=5)
    c.counts.update({"finished": 5 if best is not None else 0, "not started": 0 if best is not None else 5},
                    **{k.replace("_", " "): v for k, v in counts.items()})
    c.best = best
    return c


def study(cells: list[CellStatus], mode: str = "max") -> StudyStatus:
    return StudyStatus("sweep", "RUNNING", "psds1", mode, cells, None)


def test_a_sweep_lists_active_cells_then_the_best_and_says_how_many_are_left_out():
    cells = [cell(f"lr={i}", i / 1000) for i in range(2000)]
    cells[7] = cell("lr=7", None, running=1, not_started=4)
    cells[9] = cell("lr=9", 0.0001, failed=1)
    lines = format_status(study(cells), max_cells=5).splitlines()
    rows = [line.split()[-1] for line in lines[2:-1]]
    assert rows == ["lr=7", "lr=9", "lr=1997", "lr=1998", "lr=1999"]  # the study's order
    assert lines[-1].startswith("... 1995 more cells of 2000") and "--all" in lines[-1]
    every = format_status(study(cells), max_cells=None).splitlines()
    assert len(every) == 2 + 2000 and "more cells" not in every[-1]


def test_the_best_are_the_lowest_when_the_objective_is_minimised():
    cells = [cell(f"c{i}", float(i)) for i in range(50)]
    rows = [line.split()[-1] for line in format_status(study(cells, "min"), max_cells=3).splitlines()[2:-1]]
    assert rows == ["c0", "c1", "c2"]
