"""`sedstudy validate`."""
from __future__ import annotations

import argparse

from studies.cli.options import add_study_yaml, add_workdir
from studies.cli.verb import Verb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_yaml(parser)
    add_workdir(parser)


def validate(args: argparse.Namespace) -> int:
    from studies.definition import load_study

    study = load_study(args.study, workdir=args.workdir.resolve())  # the YAML is checked before torch is imported
    from studies.launcher import check_study

    check_study(study)
    from studies.acting_view import acting_lines
    from studies.tuning import describe_tuning

    print(f"{args.study}: valid. study {study.name!r}: {len(study.cells)} cells x {len(study.spec.seed_values)} seeds "
          f"= {len(study.trials)} trials; baseline {study.baseline.id}")
    for cell in study.cells:
        print(f"  {cell.id}")
    for line in acting_lines(study):
        print(line)
    for line in describe_tuning(study):
        print(line)
    return 0


VERB = Verb("validate", help="check a study YAML and every cell's config, without compute",
            description="Validate the study file against the study and experiment schemas and build every cell's "
                        "model on the meta device (no weights, no data).",
            add_arguments=add_arguments, handle=validate)
