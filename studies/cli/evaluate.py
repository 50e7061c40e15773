"""`sedstudy evaluate`."""
from __future__ import annotations

import argparse
from pathlib import Path

from studies.cli.options import add_tracking_uri, add_workdir, tracking_uri
from studies.cli.verb import Verb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="RUN_OR_STUDY", help="study name, study YAML or MLflow run id")
    parser.add_argument("--split", required=True,
                        help="split with strong labels, e.g. validation, synthetic_validation")
    parser.add_argument("--data-root", type=Path,
                        help="DESED-layout dataset that holds the split (default: each run's own data.root)")
    parser.add_argument("--force", action="store_true",
                        help="re-evaluate runs that already have the split's metrics")
    add_tracking_uri(parser)
    add_workdir(parser)


def evaluate(args: argparse.Namespace) -> int:
    from studies.study_ref import require_store, study_name

    target = study_name(args.target)  # a missing or nameless study YAML fails before MLflow is imported
    from studies.reevaluate import reevaluate
    from studies.reevaluation_view import reevaluation_summary, run_eval_line

    store = tracking_uri(args)
    require_store(store)
    results = reevaluate(store, target, args.split, data_root=args.data_root, force=args.force,
                         on_run=lambda result: print(run_eval_line(result, args.split), flush=True))
    print(reevaluation_summary(results, target, args.split, store))
    return 0


VERB = Verb("evaluate", help="rescore stored checkpoints on another split, logged to the same runs",
            description="Rescore the best checkpoint of every finished trial of a study (or of one run) on a split "
                        "with strong labels, without retraining. Logs eval/<split>/* metrics, the split's frame "
                        "scores, PSD-ROC curves and labels, and the tag sedstudy.eval.<split> to the same MLflow "
                        "runs; their status is kept. Runs that already have the split's metrics are skipped unless "
                        "--force.",
            add_arguments=add_arguments, handle=evaluate)
