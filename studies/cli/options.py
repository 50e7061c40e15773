"""Options shared by several verbs, each declared once, and the argument types they use."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_WORKDIR = Path("sedstudy_work")
TRACKING_URI_HELP = "MLflow tracking URI (default: sqlite:///<workdir>/mlflow.db)"
DATABASE_URI_HELP = ("with a tracking server: its backend store (e.g. postgresql://user@host/mlflow), from which "
                     "the study's trial runs are read directly, only the columns wanted: over thousands of runs, "
                     "resume, status and report take seconds instead of minutes (default: $SEDSTUDY_DATABASE_URI)")
DATABASE_URI_ENV = "SEDSTUDY_DATABASE_URI"  # reports.fetch.sql.DATABASE_URI_ENV (that module imports SQLAlchemy)


class DatabaseUri(argparse.Action):
    """``--database-uri``: kept in $SEDSTUDY_DATABASE_URI, where every reader of trial runs looks for it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, value: object,
                 option_string: str | None = None) -> None:
        os.environ[DATABASE_URI_ENV] = str(value)
        setattr(namespace, self.dest, value)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1 (exclusive), got {text!r}")
    return value


def add_workdir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help="folder for data, the MLflow store, trials and reports; relative paths in configs are "
                             "resolved against it (default: %(default)s)")


def add_tracking_uri(parser: argparse.ArgumentParser, *, with_help: bool = True) -> None:
    parser.add_argument("--tracking-uri", help=TRACKING_URI_HELP if with_help else None)


def add_database_uri(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-uri", action=DatabaseUri, help=DATABASE_URI_HELP)


def tracking_uri(args: argparse.Namespace) -> str:
    """The --tracking-uri given, else the store in the --workdir (imports MLflow: call it after the cheap checks)."""
    from studies.store_relocation import local_store_uri

    return args.tracking_uri or local_store_uri(args.workdir.resolve())


def add_study_reference(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", help="study name, or the study YAML")


def add_study_yaml(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", type=Path)


def add_overrides(parser: argparse.ArgumentParser, *, with_help: bool = True) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a dotted field, e.g. --set training.epochs=5 (repeatable)" if with_help
                        else None)


def add_workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
