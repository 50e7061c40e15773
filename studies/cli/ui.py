"""`sedstudy ui`."""
from __future__ import annotations

import argparse
import os
import sys

from studies.cli.options import add_tracking_uri, add_workdir, tracking_uri
from studies.cli.verb import Verb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", nargs="?", help="print the link to this study's runs table (name or YAML)")
    add_tracking_uri(parser, with_help=False)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000, help="default 5000 (another free port when it is taken)")
    add_workdir(parser)


def ui(args: argparse.Namespace) -> int:
    from studies.study_ref import study_name
    from studies.tracking import open_client
    from studies.ui import plan_ui

    store = tracking_uri(args)
    client = open_client(store)  # a new SQLite store is created under its lock, not by the UI beside a study
    study = None if args.study is None else study_name(args.study)
    plan = plan_ui(client, store, host=args.host, port=args.port, study=study)
    if plan.note:
        print(plan.note, flush=True)
    print(f"MLflow UI on {plan.url}  ({store}); open {plan.landing}", flush=True)
    os.execv(sys.executable, plan.command)
    return 0


VERB = Verb("ui", help="open the MLflow UI on the study's tracking store (127.0.0.1)",
            description="Start the MLflow UI on the tracking store, bound to 127.0.0.1 by default.",
            add_arguments=add_arguments, handle=ui)
