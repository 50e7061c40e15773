"""`sedstudy postprocess`."""
from __future__ import annotations

import argparse

from studies.cli.options import add_tracking_uri, add_workdir, tracking_uri
from studies.cli.verb import Verb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="RUN_OR_STUDY", help="study name, study YAML or MLflow run id")
    parser.add_argument("--windows", type=int, nargs="+", metavar="FRAMES",
                        help="median-filter windows to tune over, odd frame counts (default: 1 3 5 7 9 11 15 21 27 31)")
    parser.add_argument("--force", action="store_true", help="post-process runs that already have the stage's metrics")
    add_tracking_uri(parser)
    add_workdir(parser)


def postprocess(args: argparse.Namespace) -> int:
    from studies.study_ref import require_store, study_name

    target = study_name(args.target)  # a missing or nameless study YAML fails before MLflow is imported
    from sed_core.errors import ConfigError
    from sed_core.metrics.median_tuning import DEFAULT_WINDOWS
    from studies.postprocess import postprocess as run_stage
    from studies.postprocess_view import run_line, summary_lines

    windows = tuple(args.windows) if args.windows else DEFAULT_WINDOWS
    if any(w < 1 or w % 2 == 0 for w in windows):
        raise ConfigError(f"--windows: expected odd frame counts >= 1 (e.g. 1 3 5 7), got {list(windows)}")
    store = tracking_uri(args)
    require_store(store)
    results = run_stage(store, target, windows=windows, force=args.force,
                        on_run=lambda result: print(run_line(result), flush=True))
    for line in summary_lines(results, target, store):
        print(line)
    return 0


VERB = Verb("postprocess", help="tune median filters on validation, piPSDS: over stored scores, no retraining",
            description="Post-process every finished trial of a study (or one run) from the unfiltered frame "
                        "scores it stored: PSDS raw, with the trained median filter, with class-wise windows tuned "
                        "on the selection (validation) split and applied to the test split, and the "
                        "median-filter-independent PSDS. Logs pp/<stage>/<metric> and the tuned windows to the "
                        "same runs; the test split never chooses anything.",
            add_arguments=add_arguments, handle=postprocess)
