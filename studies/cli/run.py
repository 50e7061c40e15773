"""`sedstudy run`."""
from __future__ import annotations

import argparse

from studies.cli.launch import add_launch_options, launch
from studies.cli.options import add_study_yaml
from studies.cli.verb import Verb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_yaml(parser)
    parser.add_argument("--dry-run", action="store_true", help="print the cells and trials, run nothing")
    add_launch_options(parser, address_help="join a running Ray cluster (default: start Ray in-process)",
                       storage_help="shared storage path for Ray results and checkpoints")


def run(args: argparse.Namespace) -> int:
    if args.dry_run:
        return dry_run(args)
    return launch(args.study, args.workdir.resolve(), args.tracking_uri, args.address, args.storage,
                  report=not args.no_report)


def dry_run(args: argparse.Namespace) -> int:
    from studies.definition import load_study

    study = load_study(args.study, workdir=args.workdir.resolve())  # the YAML is checked before torch is imported
    from studies.dry_run_view import dry_run_lines
    from studies.launcher import check_study

    # a dry run needs nothing downloaded: missing checkpoints are warnings here, a real run refuses them
    for line in dry_run_lines(study, check_study(study, require_checkpoints=False)):
        print(line)
    return 0


VERB = Verb("run", help="run a study on Ray Tune, record it in MLflow, write its report",
            description="Run every unfinished trial of a study (cells x seeds) as Ray Tune trials. Trials already "
                        "FINISHED in the tracking store are not run again.",
            add_arguments=add_arguments, handle=run)
