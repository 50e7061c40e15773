"""`sedstudy train`."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from studies.cli.options import add_overrides, add_workdir
from studies.cli.verb import Verb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path)
    add_overrides(parser)
    parser.add_argument("--restart", action="store_true", help="ignore an existing checkpoint in output_dir")
    add_workdir(parser)


def train(args: argparse.Namespace) -> int:
    from studies.single_run import train_single_run

    result = train_single_run(args.config, args.set, args.workdir.resolve(), restart=args.restart)
    print(json.dumps({"output_dir": str(result.output_dir), "best_epoch": result.best_epoch, **result.metrics},
                     indent=2))
    return 0


VERB = Verb("train", help="train one run from an experiment YAML, without Ray",
            description="Train one mean-teacher run. The YAML may name a preset (paper, quick, tiny) and override "
                        "any field; --set overrides dotted fields.",
            add_arguments=add_arguments, handle=train)
