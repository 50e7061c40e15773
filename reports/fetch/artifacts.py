"""Optional per-trial artifacts a report can use when the trials store them.

- `psd_roc/<metric>.tsv`: the PSD-ROC of the reported model, columns `efpr` and `tpr` (a step function).
- `scores/<split>/<clip>.tsv`: frame scores in sed_scores_eval's format, for the bootstrap over clips.
- `reference/<split>/{ground_truth,durations}.tsv`: the split's labels, which PSDS over resampled clips needs.
- `config.json`: the trial's typed config (its PSDS scenarios).
Trials of older versions lack some; each reader returns nothing when they are absent, and the report says so.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient

from reports.contract import (
    CONFIG_ARTIFACT,
    PSD_ROC_ARTIFACT_DIR,
    RAW_SCORES_ARTIFACT_DIR,
    REFERENCE_ARTIFACT_DIR,
    SCORES_ARTIFACT_DIR,
)
from reports.fetch.reference import Reference
from reports.fetch.score_tables import read_score_tables

logger = logging.getLogger(__name__)

PSD_ROC_COLUMNS = ("run_id", "metric", "efpr", "tpr")
_PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


@contextmanager
def _no_progress_bar() -> Iterator[None]:
    """MLflow draws a progress bar on stderr for every download; a report downloads many small files."""
    before = os.environ.get(_PROGRESS_BAR)
    os.environ[_PROGRESS_BAR] = "false"
    try:
        yield
    finally:
        if before is None:
            del os.environ[_PROGRESS_BAR]
        else:
            os.environ[_PROGRESS_BAR] = before


def download(client: MlflowClient, run_id: str, path: str, dst: str | Path) -> Path:
    """`client.download_artifacts` without the progress bar; returns the local path."""
    with _no_progress_bar():
        return Path(client.download_artifacts(run_id, path, str(dst)))


def artifact_names(client: MlflowClient, run_id: str, folder: str) -> list[str]:
    """Names directly under `folder` in the run's artifacts ([] when the folder does not exist)."""
    try:
        return sorted(entry.path.rsplit("/", 1)[-1] for entry in client.list_artifacts(run_id, folder))
    except (OSError, ValueError) as error:  # an artifact store that cannot be listed
        logger.warning("cannot list artifacts %s/ of run %s: %s", folder, run_id, error)
        return []


def load_psd_roc(client: MlflowClient, run_ids: Sequence[str]) -> pd.DataFrame:
    """Long table (run_id, metric, efpr, tpr) of every stored `psd_roc/<metric>.tsv` of `run_ids`."""
    frames = []
    with tempfile.TemporaryDirectory() as tmp:
        for run_id in run_ids:
            for name in artifact_names(client, run_id, PSD_ROC_ARTIFACT_DIR):
                if not name.endswith(".tsv"):
                    continue
                local = download(client, run_id, f"{PSD_ROC_ARTIFACT_DIR}/{name}", tmp)
                curve = pd.read_csv(local, sep="\t")
                missing = {"efpr", "tpr"} - set(curve.columns)
                if missing:
                    raise ValueError(f"run {run_id}: artifact {PSD_ROC_ARTIFACT_DIR}/{name} must have columns efpr "
                                     f"and tpr, but lacks {sorted(missing)}")
                frames.append(curve[["efpr", "tpr"]].assign(run_id=run_id, metric=name[:-4]))
    if not frames:
        return pd.DataFrame(columns=list(PSD_ROC_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(PSD_ROC_COLUMNS)].astype({"efpr": "float64", "tpr": "float64"})


def score_splits(client: MlflowClient, run_id: str) -> list[str]:
    """The splits with stored frame scores (`scores/<split>/`) of one run."""
    return artifact_names(client, run_id, SCORES_ARTIFACT_DIR)


def load_scores(client: MlflowClient, run_id: str, split: str) -> pd.DataFrame:
    """The run's frame scores of one split as one long table (clip id in `filename`)."""
    with tempfile.TemporaryDirectory() as tmp:
        local = download(client, run_id, f"{SCORES_ARTIFACT_DIR}/{split}", tmp)
        return read_score_tables(sorted(local.glob("*.tsv")))


def load_raw_scores(client: MlflowClient, run_id: str, split: str) -> dict[str, pd.DataFrame] | None:
    """The run's unfiltered frame scores of one split, one score DataFrame per clip; None when it stores none."""
    if split not in artifact_names(client, run_id, RAW_SCORES_ARTIFACT_DIR):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        local = download(client, run_id, f"{RAW_SCORES_ARTIFACT_DIR}/{split}", tmp)
        return {path.name.removesuffix(".tsv"): pd.read_csv(path, sep="\t") for path in sorted(local.glob("*.tsv"))}


def load_reference(client: MlflowClient, run_id: str, split: str) -> Reference | None:
    """The split's labels the run was scored against, or None when the run stores none."""
    if split not in artifact_names(client, run_id, REFERENCE_ARTIFACT_DIR):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        local = download(client, run_id, f"{REFERENCE_ARTIFACT_DIR}/{split}", tmp)
        events = pd.read_csv(local / "ground_truth.tsv", sep="\t")
        durations = pd.read_csv(local / "durations.tsv", sep="\t")
    return Reference.from_tables(events, durations)


def load_config(client: MlflowClient, run_id: str) -> dict | None:
    """The run's typed config (`config.json`), or None when the run stores none."""
    if CONFIG_ARTIFACT not in artifact_names(client, run_id, ""):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return json.loads(download(client, run_id, CONFIG_ARTIFACT, tmp).read_text(encoding="utf-8"))
