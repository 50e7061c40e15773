"""PSDS over resampled clips: reports.clip_psds (weighted deltas) against sed_scores_eval's psds(deltas=...).

Both compute the same value on the same resamples (checked here, and in tests/reports/test_clip_psds.py); the
baseline, sed_scores_eval's route on the resampled clip set with repeated clips renamed, runs in the same process.
Prints seconds per resample and the ratio; nothing asserts a time.

    .venv/bin/python bench/clip_psds.py                 # 200 clips (the demo validation split), 20 resamples
    .venv/bin/python bench/clip_psds.py --clips 1168    # DESED validation size
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sed_scores_eval import intersection_based

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reports.stats.bootstrap import clip_draws, resampled_ids  # noqa: E402
from reports.stats.clip_psds import PsdsStatistic  # noqa: E402
from sed_core.metrics.sed_metrics import DEFAULT_PSDS_SCENARIOS  # noqa: E402


def _fabricated():
    """The test suite's fabricated scores and labels (tests/reports/test_clip_psds.py), loaded by path."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "tests" / "reports" / "test_clip_psds.py"
    spec = importlib.util.spec_from_file_location("test_clip_psds", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fabricated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=20)
    args = parser.parse_args()
    table, reference = _fabricated()(args.clips, seed=0)
    clips = sorted(table["filename"].unique())
    draws = clip_draws(len(clips), args.resamples, seed=0)
    scores = {clip: frame.drop(columns=["filename"]).reset_index(drop=True)
              for clip, frame in table.groupby("filename")}
    print(f"{len(clips)} clips of 10 s, {args.resamples} resamples")
    for name, sc in DEFAULT_PSDS_SCENARIOS.items():
        started = time.perf_counter()
        evaluate = PsdsStatistic(reference, sc).prepare(table, clips)
        prepared = time.perf_counter()
        ours = [evaluate(draw) for draw in draws]
        ours_s = (time.perf_counter() - prepared) / len(draws)

        started_base = time.perf_counter()
        deltas = intersection_based.intermediate_statistics_deltas(
            scores=scores, ground_truth={c: list(reference.ground_truth[c]) for c in clips},
            dtc_threshold=sc.dtc_threshold, gtc_threshold=sc.gtc_threshold, cttc_threshold=sc.cttc_threshold)
        deltas_done = time.perf_counter()
        base = []
        for draw in draws:
            ids, sources = resampled_ids(draw, clips), [clips[i] for i in draw]
            value, *_ = intersection_based.psds(
                scores=None, deltas={i: deltas[c] for i, c in zip(ids, sources)},
                ground_truth={i: list(reference.ground_truth[c]) for i, c in zip(ids, sources)},
                audio_durations={i: reference.durations[c] for i, c in zip(ids, sources)},
                dtc_threshold=sc.dtc_threshold, gtc_threshold=sc.gtc_threshold, cttc_threshold=sc.cttc_threshold,
                alpha_ct=sc.alpha_ct, alpha_st=sc.alpha_st, max_efpr=sc.max_efpr)
            base.append(value)
        base_s = (time.perf_counter() - deltas_done) / len(draws)
        same = np.allclose(ours, base, rtol=0, atol=1e-12)
        print(f"{name}: per resample {ours_s * 1000:.1f} ms (sed_scores_eval {base_s * 1000:.1f} ms, "
              f"{base_s / ours_s:.1f}x); prepare {prepared - started:.2f} s "
              f"(sed_scores_eval deltas {deltas_done - started_base:.2f} s); same values: {same}")


if __name__ == "__main__":
    main()
