"""The exact PSDS against the 50-threshold PSDS DCASE 2022 papers published, per cell of a finished study, from
the frame scores its trials stored (nothing is retrained), with the time each convention takes per trial.

    .venv/bin/python bench/psds_conventions.py quickstart --tracking-uri sqlite:///sedstudy_work/mlflow.db
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

import pandas as pd
from sed_scores_eval import intersection_based

from reports.fetch.artifacts import load_config, load_reference, load_scores, score_splits
from reports.fetch.load import FINISHED, load_study
from sed_core.metrics.sed_metrics import PSDSScenario, published_psds
from studies.tracking import open_client


def clip_frames(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {str(name).removesuffix(".wav"): frame.drop(columns="filename").reset_index(drop=True)
            for name, frame in table.groupby("filename", sort=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study")
    parser.add_argument("--tracking-uri", required=True)
    args = parser.parse_args()
    client = open_client(args.tracking_uri)
    runs = load_study(args.tracking_uri, args.study).runs
    by_cell: dict[str, list[dict[str, float]]] = defaultdict(list)
    timings = {"exact": [], "t50": []}
    for _, run in runs[runs['status'] == FINISHED].iterrows():
        run_id = run["run_id"]
        split = score_splits(client, run_id)[0]
        scores = clip_frames(load_scores(client, run_id, split))
        reference = load_reference(client, run_id, split)
        config = load_config(client, run_id) or {}
        values = {}
        for name in ("psds1", "psds2"):
            scenario = PSDSScenario(**config["evaluation"][name])
            start = time.perf_counter()
            exact, *_ = intersection_based.psds(
                scores=scores, ground_truth=reference.ground_truth, audio_durations=reference.durations,
                dtc_threshold=scenario.dtc_threshold, gtc_threshold=scenario.gtc_threshold,
                cttc_threshold=scenario.cttc_threshold, alpha_ct=scenario.alpha_ct, alpha_st=scenario.alpha_st,
                max_efpr=scenario.max_efpr)
            timings["exact"].append(time.perf_counter() - start)
            start = time.perf_counter()
            values[f"{name}_t50"] = published_psds(scores, reference.ground_truth, reference.durations, scenario)
            timings["t50"].append(time.perf_counter() - start)
            values[name] = float(exact)
        by_cell[run['cell']].append(values)
    print("| cell | trials | PSDS1 exact | PSDS1@50 | gap | PSDS2 exact | PSDS2@50 | gap |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for cell, rows in sorted(by_cell.items()):
        mean = {k: statistics.fmean(r[k] for r in rows) for k in rows[0]}
        print(f"| {cell} | {len(rows)} | {mean['psds1']:.4f} | {mean['psds1_t50']:.4f} | "
              f"{mean['psds1'] - mean['psds1_t50']:+.4f} | {mean['psds2']:.4f} | {mean['psds2_t50']:.4f} | "
              f"{mean['psds2'] - mean['psds2_t50']:+.4f} |")
    print(f"seconds per scenario and trial: exact {statistics.fmean(timings['exact']):.2f}, "
          f"50 thresholds {statistics.fmean(timings['t50']):.2f} (ratio "
          f"{statistics.fmean(timings['t50']) / statistics.fmean(timings['exact']):.2f})")


if __name__ == "__main__":
    main()
