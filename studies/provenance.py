"""Which code, data, weights, metric and machine produced a run.

Code: the git commit of the sedstudy checkout and whether its tree was dirty. Data: `sed_core.data.fingerprint`.
Backbone weights: the checkpoint's sha256. Metric: its full specification. Machine and packages: collected
where the trial runs (`environment`).
"""
from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from reports.contract import (
    BACKBONE_SHA256_TAG,
    CODE_COMMIT_TAG,
    CODE_DIRTY_TAG,
    CODE_VERSION_TAG,
    DATA_COVERAGE_TAG,
    DATA_KIND_TAG,
    DATA_SHA256_TAG,
    METRIC_SPEC_TAG,
)
from sed_core.config.schema import ExperimentConfig
from sed_core.data.fingerprint import DataFingerprint, data_fingerprint
from sed_core.data.splits import SplitData, load_split
from sed_core.training.required import required_splits

REPO_ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@lru_cache(maxsize=1)
def code_version() -> dict[str, str]:
    """Tags: ``sedstudy.code.commit`` (or "unknown" outside a git checkout), ``.dirty``, ``.version``."""
    try:
        package = version("sedstudy")
    except PackageNotFoundError:
        package = "unknown"
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {CODE_COMMIT_TAG: commit or "unknown",
            CODE_DIRTY_TAG: "unknown" if status is None else str(bool(status)).lower(),
            CODE_VERSION_TAG: package}


# ---- what else produced a number: data, backbone weights, the metric's full specification, the machine ----

def metric_spec(config: ExperimentConfig) -> dict[str, Any]:
    """Everything that defines the reported numbers of a run besides the model: the tool, the scenarios, the
    post-processing, which model and which epoch."""
    e = config.evaluation
    return {
        "tool": f"sed_scores_eval {_version('sed_scores_eval')}",
        "psds1": e.psds1.model_dump(), "psds2": e.psds2.model_dump(),
        "psds_conventions": {"psds1, psds2": "exact: the PSD-ROC over every threshold (sed_scores_eval)",
                             "psds1_t50, psds2_t50": "the PSD-ROC at 50 thresholds 0.01..0.99 step 0.02, as DCASE "
                                                     "2022 papers published it (DESED_task with psds_eval)"},
        "collar_f1": {"onset_s": e.collar_onset, "offset_s": e.collar_offset, "offset_rate": e.collar_offset_rate,
                      "threshold": e.threshold},
        "intersection_f1": {"dtc": 0.5, "gtc": 0.5, "threshold": e.threshold},
        "post_processing": {"median_filter_frames": e.median_window, "median_mode": e.median_mode},
        "model": e.report_model,
        "checkpoint": {"rule": "best epoch", "metric": e.selection_metric, "split": e.selection_split},
        "test_split": e.test_split,
    }


def metric_spec_text(config: ExperimentConfig) -> str:
    """One line for a tag or a table note, e.g. 'sed_scores_eval 0.0.4; PSDS1 dtc 0.7 gtc 0.7 ...'."""
    s = metric_spec(config)

    def psds(name: str) -> str:
        p = s[name]
        ct = "" if p["alpha_ct"] == 0 else f" cttc {p['cttc_threshold']:g} alpha_ct {p['alpha_ct']:g}"
        return (f"{name.upper()} dtc {p['dtc_threshold']:g} gtc {p['gtc_threshold']:g}{ct} alpha_st "
                f"{p['alpha_st']:g} max_efpr {p['max_efpr']:g}")

    c, pp, ck = s["collar_f1"], s["post_processing"], s["checkpoint"]
    return (f"{s['tool']}; {psds('psds1')}; {psds('psds2')}; PSDS exact over every threshold, *_t50 at 50 "
            f"thresholds 0.01..0.99 (DCASE 2022 papers); collar F1 onset {c['onset_s']:g} s, offset "
            f"max({c['offset_s']:g} s, {c['offset_rate']:g} x length), threshold {c['threshold']:g}; median filter "
            f"{pp['median_filter_frames']} frames ({pp['median_mode']}); {s['model']} at the best epoch by "
            f"{ck['metric']} on {ck['split']}; scored on {s['test_split']}")


def environment() -> dict[str, Any]:
    """The machine and the packages a trial ran with (collected where it runs). The GPUs are those torch sees, when
    the trial has loaded torch (a training trial has; the scale benchmark's simulated one has not, and lists none)."""
    torch = sys.modules.get("torch")
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] \
        if torch is not None and torch.cuda.is_available() else []
    return {
        "python": platform.python_version(), "platform": platform.platform(), "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(), "gpus": gpus, "cuda": torch.version.cuda if gpus else None,
        "packages": {name: _version(name) for name in PACKAGES},
        "installed": dict(installed_distributions()),
    }


@cache
def installed_distributions() -> dict[str, str]:
    """Every installed distribution and its version (what `pip freeze` would list), sorted by name; read once per
    process (0.1 s of CPU: a trial's worker runs trial after trial)."""
    from importlib.metadata import distributions

    found = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name:
            found[name] = dist.version
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


def environment_text(env: dict[str, Any]) -> str:
    gpus = ", ".join(env.get("gpus") or []) or "no GPU"
    return f"{env.get('cpu')} x{env.get('cpu_count')}, {gpus}; python {env.get('python')}, " + ", ".join(
        f"{k} {v}" for k, v in env.get("packages", {}).items() if k in ("torch", "sed_scores_eval", "ray"))


PACKAGES = ("torch", "torchaudio", "numpy", "scipy", "sed_scores_eval", "ray", "mlflow", "optuna", "codecarbon")


@cache
def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


@cache
def _cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo; elsewhere what the platform module knows)."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text(errors="replace").splitlines() if cpuinfo.is_file() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else (platform.processor() or platform.machine())


@lru_cache(maxsize=32)
def file_sha256(path: Path, size: int, mtime_ns: int) -> str:
    """sha256 of a file (cached by path, size and modification time: checkpoints are large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_sha256(path: Path) -> str:
    stat = path.stat()
    return file_sha256(path, stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True)
class RunProvenance:
    """Tags for the run and the `provenance.json` document."""

    tags: dict[str, str]
    document: dict[str, Any]


class ProvenanceBook:
    """The provenance of each trial's config. Data fingerprints are computed once per data root and split set
    from the splits the launch already loaded; only the results are kept (Tune pickles the tracker)."""

    def __init__(self, splits: Mapping[tuple[Path, str], SplitData]) -> None:
        self._data: dict[tuple[Path, tuple[str, ...]], DataFingerprint] = {}
        by_root: dict[Path, dict[str, SplitData]] = {}
        for (root, name), split in splits.items():
            by_root.setdefault(root, {})[name] = split
        self._splits = by_root  # dropped after the first fingerprints below

    def data(self, config: ExperimentConfig) -> DataFingerprint:
        names = tuple(required_splits(config))
        key = (config.data.root, names)
        if key not in self._data:
            known = getattr(self, "_splits", {}).get(config.data.root, {})
            loaded = [known.get(n) or load_split(config.data.root, n, classes=config.data.classes,
                                                 check_audio=False) for n in names]
            self._data[key] = data_fingerprint(config.data.root, loaded)
        return self._data[key]

    def __getstate__(self) -> dict:
        return {"_data": self._data}

    def __call__(self, config: ExperimentConfig) -> RunProvenance:
        data = self.data(config)
        tags = {DATA_KIND_TAG: data.kind, DATA_SHA256_TAG: data.sha256,
                DATA_COVERAGE_TAG: data.coverage_text(), METRIC_SPEC_TAG: metric_spec_text(config)}
        document: dict[str, Any] = {"code": code_version(), "data": data.as_dict(), "metric": metric_spec(config)}
        backbone = config.model.backbone
        if not backbone.enabled:
            tags[BACKBONE_SHA256_TAG] = NO_BACKBONE
        elif backbone.checkpoint is None or backbone.init == "random":
            tags[BACKBONE_SHA256_TAG] = RANDOM_BACKBONE
        else:
            tags[BACKBONE_SHA256_TAG] = checkpoint_sha256(Path(backbone.checkpoint))
            document["backbone_checkpoint"] = {"path": str(backbone.checkpoint),
                                               "sha256": tags[BACKBONE_SHA256_TAG]}
        return RunProvenance(tags, document)


NO_BACKBONE = "none (no SSL backbone)"
RANDOM_BACKBONE = "none (random initialisation)"
