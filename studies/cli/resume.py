"""`sedstudy resume`."""
from __future__ import annotations

import argparse

from studies.cli.launch import add_launch_options, launch
from studies.cli.options import add_study_reference
from studies.cli.verb import Verb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_study_reference(parser)
    add_launch_options(parser, address_help="join a running Ray cluster (default: as launched)",
                       storage_help="shared storage path (default: as launched)")


def resume(args: argparse.Namespace) -> int:
    """Finish an interrupted study: the same launch, from its YAML or from what its parent run recorded."""
    from studies.study_ref import study_name

    study_name(args.study)  # a missing or nameless study YAML fails before MLflow is imported
    from studies.resume import resume_plan

    plan = resume_plan(args.study, workdir=args.workdir.resolve(), tracking_uri=args.tracking_uri)
    print(f"resuming study {plan.study} from {plan.study_path} (workdir {plan.workdir})", flush=True)
    return launch(plan.study_path, plan.workdir, plan.tracking_uri, args.address or plan.address,
                  args.storage or plan.storage, report=not args.no_report)


VERB = Verb("resume", help="finish an interrupted study: finished trials are kept, the rest run",
            description="Resume a study by name (its YAML and launch settings are read back from its parent run) or "
                        "by YAML path. Finished trials are never rerun; interrupted trials continue from their last "
                        "epoch checkpoint and re-attach to their MLflow runs.",
            add_arguments=add_arguments, handle=resume)
