"""`sedstudy status`."""
from __future__ import annotations

import argparse

from studies.cli.options import (
    add_database_uri,
    add_study_reference,
    add_tracking_uri,
    add_workdir,
    tracking_uri,
)
from studies.cli.verb import Verb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_reference(parser)
    add_tracking_uri(parser)
    add_database_uri(parser)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--all", action="store_true", dest="all_cells",
                        help="list every cell (by default a study of more than 40 cells lists those with running or "
                             "failed trials, then the best ones)")
    add_workdir(parser)


def status(args: argparse.Namespace) -> int:
    from studies.study_ref import require_store, study_name

    study = study_name(args.study)  # a missing or nameless study YAML fails before MLflow is imported
    from studies.status import MAX_CELL_ROWS, format_status, study_status
    from studies.status_json import status_json

    store = tracking_uri(args)
    require_store(store)
    progress = study_status(store, study)
    print(status_json(progress) if args.json else format_status(progress, max_cells=None if args.all_cells
                                                                 else MAX_CELL_ROWS))
    return 0


VERB = Verb("status", help="cells finished / running / failed / not started, and the best so far",
            description="Print a study's progress from the tracking store: per cell the trials finished, running, "
                        "failed and not started, and the best objective so far.",
            add_arguments=add_arguments, handle=status)
