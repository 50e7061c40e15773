"""A study named on the command line: by its name, or by the path of its YAML (as ``sedstudy run`` takes it).

Every verb that takes a study (``status``, ``resume``, ``report``, ``evaluate``) resolves it here, and an unknown
name gets the same message: the studies the store holds (experiments with a sedstudy parent run, so MLflow's empty
``Default`` experiment is not one) and the close match.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from reports.contract import study_names
from sed_core.config.loading import read_yaml_mapping
from sed_core.errors import ConfigError, SedStudyError, close_match_hint

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

STUDY_SUFFIXES = (".yaml", ".yml")


def is_study_file(ref: str | Path) -> bool:
    """Whether ``ref`` names a study YAML (by its suffix, or because such a file exists) rather than a study."""
    path = Path(ref)
    return path.suffix in STUDY_SUFFIXES or path.is_file()


def study_name(ref: str | Path) -> str:
    """The study's name: ``ref`` itself, or the ``name:`` of the study YAML at ``ref`` (only that field is read,
    so a study whose file changed since it ran can still be looked up)."""
    if not is_study_file(ref):
        return str(ref)
    path = Path(ref)
    if not path.is_file():
        raise ConfigError(f"{path}: no such study file; give a study name or the path of a study YAML")
    name = read_yaml_mapping(path).get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path}: name: expected the study's name (text), got {name!r}; add e.g. `name: my_study`")
    return name


def require_store(tracking_uri: str) -> None:
    """A verb that reads a study refuses a SQLite store that does not exist, rather than create an empty one (or
    fail on its lock file in a missing folder)."""
    if tracking_uri.startswith("sqlite:///") and ":memory:" not in tracking_uri:
        path = Path(tracking_uri.removeprefix("sqlite:///"))
        if not path.is_file():
            raise SedStudyError(f"no tracking store at {path}: no study has run with this work folder; pass the "
                                f"--workdir or --tracking-uri the study was run with")


def unknown_study(study: str, tracking_uri: str, client: MlflowClient, *, what: str = "study") -> SedStudyError:
    """The error for a study the store does not hold: what is there, the close match and how to point elsewhere."""
    names = study_names(client)
    listed = ", ".join(repr(n) for n in names) if names else "none"
    return SedStudyError(f"no {what} {study!r} in {tracking_uri}{close_match_hint(study, names)}; studies there: "
                         f"{listed}. Give one of these names or the study YAML, or the --workdir/--tracking-uri of "
                         f"the store it was run with")
