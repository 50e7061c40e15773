"""What Ray and MLflow add to a study: the study's wall time against the same trials trained by plain `fit()`.

    .venv/bin/python bench/study_overhead.py                        # quickstart, seed 1 only, 1 epoch (minutes)
    .venv/bin/python bench/study_overhead.py --seeds all --epochs 0  # the whole quickstart as shipped (~30 min)

Both arms run in this process on the same trials, one trial at a time (the study's `resources.cpu` is set to
the machine's cores, so Ray schedules trials one after another; the trials keep their own thread count):
- plain: `sed_core.training.trainer.fit(config)` for each trial's config, nothing else;
- study: `sedstudy run` in-process (`studies.launcher.run_study`): validation, Ray Tune in-process, SQLite
  MLflow, per-epoch reports and checkpoints, frame-score artifacts, provenance and CodeCarbon cost per trial.
Overhead = study wall / sum of the plain trials - 1 (goal: at most 5 %). The data set is generated before
either arm and the report is not part of the study (`sedstudy report` times itself).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import yaml
from bench_data import ROOT

from sed_core.data.synth import generate_dataset
from sed_core.training.trainer import fit
from studies.definition import load_study
from studies.launcher import run_study

REPO = Path(__file__).resolve().parents[1]


def study_yaml(source: Path, out: Path, *, seeds: str, epochs: int) -> Path:
    spec = yaml.safe_load(source.read_text())
    if seeds != "all":
        spec["seeds"] = [int(s) for s in seeds.split(",")]
    if epochs:
        spec.setdefault("experiment", {}).setdefault("training", {})["epochs"] = epochs
    spec["resources"] = {**spec.get("resources", {}), "cpu": os.cpu_count() or 1}  # one trial at a time
    path = out / source.name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def shared_data(workdir: Path, spec_path: Path) -> None:
    """The study's synthetic data, generated once under the bench folder and linked into each workdir."""
    spec = yaml.safe_load(spec_path.read_text())
    synth = spec["synthetic_data"]
    seed = synth.get("seed", 0)
    source = ROOT / (synth["preset"] if seed == 0 else f"{synth['preset']}_seed{seed}")
    generate_dataset(synth["preset"], source, seed=seed, workers=os.cpu_count() or 1)
    target = workdir / spec["experiment"]["data"]["root"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source, target_is_directory=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", type=Path, default=REPO / "studies" / "quickstart.yaml")
    parser.add_argument("--seeds", default="1", help="comma-separated seeds of the study to run, or 'all'")
    parser.add_argument("--epochs", type=int, default=1, help="training.epochs for every trial; 0 keeps the study's")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = study_yaml(args.study, tmp, seeds=args.seeds, epochs=args.epochs)
        workdir = tmp / "work"
        shared_data(workdir, path)
        study = load_study(path, workdir=workdir)
        plain = []
        for i, trial in enumerate(study.trials):
            start = time.perf_counter()
            fit(trial.config.model_copy(update={"output_dir": tmp / "plain" / str(i)}))
            plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        outcome = run_study(path, workdir=workdir)
        wall = time.perf_counter() - start
    if outcome.failed or outcome.ran != len(plain):
        raise SystemExit(f"the study ran {outcome.ran} trials with {outcome.failed} failed; the comparison needs "
                         f"all {len(plain)}")
    total = sum(plain)
    print(f"{study.name}: {len(plain)} trials, one at a time, {study.trials[0].config.training.epochs} epoch(s) each")
    print(f"plain fit():   {total:8.1f} s in all ({', '.join(f'{s:.1f}' for s in plain)})")
    print(f"sedstudy run:  {wall:8.1f} s wall (Ray in-process, SQLite MLflow)")
    print(f"overhead: {100 * (wall / total - 1):.1f} % of the trials' compute, {(wall - total) / len(plain):.1f} s "
          f"per trial")


if __name__ == "__main__":
    main()
