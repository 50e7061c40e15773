"""The ``sedstudy`` command line."""
from __future__ import annotations

import argparse
import logging
import sys

from sed_core.errors import SedStudyError
from studies.cli import (
    evaluate,
    model_info,
    postprocess,
    predict,
    prepare_desed,
    report,
    resume,
    run,
    status,
    synth,
    train,
    ui,
    validate,
)
from studies.cli.verb import Verb
from studies.cli.version import version_text

__all__ = ["VERBS", "build_parser", "main", "version_text"]

# in the order `sedstudy --help` lists them
VERBS: tuple[Verb, ...] = (synth.VERB, train.VERB, validate.VERB, run.VERB, resume.VERB, status.VERB, report.VERB,
                           ui.VERB, model_info.VERB, prepare_desed.VERB, evaluate.VERB, postprocess.VERB,
                           predict.VERB)
QUIETED_LOGGERS = ("matplotlib", "PIL", "alembic", "mlflow.store.db.utils")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sedstudy", description=__doc__.strip() + " Ablation studies of "
                                     "semi-supervised sound event detection on Ray Tune and MLflow.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--version", action="version", version=version_text())
    subparsers = parser.add_subparsers(dest="command", required=True)
    for verb in VERBS:
        verb.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from studies.platform_probes import skip_absent_platform_probes
    from studies.quiet import quiet_third_party

    quiet_third_party()
    skip_absent_platform_probes()  # status, report and resume make many requests to a tracking server
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in QUIETED_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return args.func(args)
    except SedStudyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
