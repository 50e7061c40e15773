"""What `validate` and the dry run say about the keys a study writes (each acts where it is written) and about the
analysis plan its report will follow."""
from __future__ import annotations

from collections.abc import Iterator

from studies.definition import Study


def acting_lines(study: Study) -> Iterator[str]:
    """One line for the check, then one per field of the `experiment:` block that some cells do not read, then the
    analysis plan."""
    yield (f"keys: every factor level and tuned field acts in its cells; the {len(study.cells)} cells are "
           f"distinct models")
    for path, cells in study.partly_inert:
        yield (f"  experiment.{path}: shared by the cells, no effect in {len(cells)} of them (e.g. cell "
               f"{cells[0]})")
    yield study.spec.analysis.describe(study.spec.objective.metric, len(study.cells), len(study.space.names))
    if study.spec.sequential is not None:
        yield study.spec.sequential.describe() + (
            f"; each of the {len(study.cells) - 1} contrasts at alpha / {len(study.cells) - 1} (Bonferroni)"
            if len(study.cells) > 2 else "")
