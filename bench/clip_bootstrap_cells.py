"""The report's bootstrap over clips for every cell against the baseline: 50 cells x 5 seeds against the 6 cells
(the baseline and the 5 best) that it bootstrapped before.

The report (reports/stats/clip_section.py) loads the frame scores of every run in a comparison, draws the resamples
once (`clip_draws`), computes each run's bootstrap distribution once (`statistic_values`: `PsdsStatistic.prepare`,
then one PSDS per resample) in a spawn process pool of min(runs, cores) workers, one run per task, and compares each
cell with the baseline from those distributions (`paired_result`). It bootstraps one statistic per report (the
plan's metric if it is a PSDS scenario, else PSDS1); this script times both scenarios.

Measured here: `statistic_values` on --runs-timed distinct fabricated runs (the test suite's fabricated scores of
tests/reports/test_clip_psds.py, each run's scores scaled by its own seed's noise; the same clips, labels and draws
for every run, as in the report) at the two --timed-resamples counts, serially in this process. The prepare step is
timed on its own; the cost per resample at the two counts shows whether it is linear, and a run at --resamples is
prepare + (resamples + 1) x the cost per resample at the larger count (value 0 is the original clip set). Then the
report's pool (spawn, min(runs, cores) workers, one run per task): its start-up, and runs timed inside its workers
against the serial times (the slowdown of runs sharing the machine); and `paired_result` for every comparison. Wall
times of the old and new run counts are extrapolated as start-up + ceil(runs / workers) x run time x slowdown,
printed in seconds and as the ratio new / old; for a machine with --other-cores cores, at this machine's speed per
core and without slowdown. Nothing asserts a time.

    .venv/bin/python bench/clip_bootstrap_cells.py    # 1,168 clips, 1000 resamples, 50 x 5 against 6 x 5: < 2 min
    .venv/bin/python bench/clip_bootstrap_cells.py --classes 10 --frames 156 --runs-timed 3 --timed-resamples 20 60 \
        --pool-runs 2                                 # DESED's shape (a cost proxy): about 3 min on 2 cores

The defaults fabricate the test's 3 classes and 40 frames per 10 s clip, as bench/clip_psds.py does; DESED's
scores have 10 classes and the baseline CRNN's 156 frames per clip (`--classes 10 --frames 156`: the test's events
keep their length in frames, so they get shorter; a cost proxy, not DESED's labels).
"""
from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reports.stats.bootstrap import clip_draws, paired_result, statistic_values  # noqa: E402
from reports.stats.clip_psds import PsdsStatistic  # noqa: E402
from sed_core.desed_classes import DESED_CLASSES  # noqa: E402
from sed_core.metrics.sed_metrics import DEFAULT_PSDS_SCENARIOS  # noqa: E402

CLIP_S = 10.0


def _fabricated_module(classes: int, frames: int):
    """The test suite's fabrication (tests/reports/test_clip_psds.py), loaded by path; `classes` of DESED's names
    and `frames` per 10 s clip when they differ from the test's."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "tests" / "reports" / "test_clip_psds.py"
    spec = importlib.util.spec_from_file_location("test_clip_psds", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if classes != len(module.CLASSES):
        module.CLASSES = list(DESED_CLASSES[:classes]) if classes <= len(DESED_CLASSES) else \
            [f"class{k}" for k in range(classes)]
    if frames != module.FRAMES:
        module.FRAMES, module.HOP = frames, CLIP_S / frames
    return module


def _runs(module, n_clips: int, n_runs: int):
    """`n_runs` score tables of the same clips and labels: the fabricated system's scores, each run scaled by its
    own seed's factors in [0.8, 1.2] per frame and class (a different system per seed, no new ties)."""
    table, reference = module.fabricated(n_clips, seed=0)
    classes = list(module.CLASSES)
    tables = []
    for seed in range(1, n_runs + 1):
        rng = np.random.default_rng(seed)
        run = table.copy()
        run[classes] = np.clip(run[classes].to_numpy() * rng.uniform(0.8, 1.2, (len(run), len(classes))), 0, 1)
        tables.append(run)
    return tables, reference


class _TimedPrepare:
    """The statistic, timing its `prepare` (the per-run work before the resamples)."""

    def __init__(self, statistic: PsdsStatistic):
        self.statistic, self.seconds = statistic, 0.0

    def prepare(self, table, clips):
        started = time.perf_counter()
        evaluate = self.statistic.prepare(table, clips)
        self.seconds = time.perf_counter() - started
        return evaluate


def _warm() -> None:
    """A pool task that needs only what a worker needs for `statistic_values` of a PsdsStatistic."""
    import reports.stats.clip_psds  # noqa: F401


def _timed_values(table, statistic, clips, draws) -> float:
    """`statistic_values` in a pool worker, returning its seconds there (the pool's start-up left out)."""
    started = time.perf_counter()
    statistic_values(table, statistic, clips, draws)
    return time.perf_counter() - started


def _spawn_pool(workers: int) -> ProcessPoolExecutor:
    """The report's pool (clip_section._values_of_runs): spawn context, one run per task."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _pool_start(workers: int) -> float:
    """Seconds to start the report's pool with `workers` workers, each importing the report, and shut it down."""
    started = time.perf_counter()
    with _spawn_pool(workers) as pool:
        for future in [pool.submit(_warm) for _ in range(workers)]:
            future.result()
    return time.perf_counter() - started


def _wall(runs: int, cores: int, run_s: float, start_s: float, slowdown: float) -> tuple[float, int, int]:
    """The report's wall time: min(runs, cores) workers, one run per task; (seconds, workers, rounds)."""
    workers = max(1, min(runs, cores))
    rounds = math.ceil(runs / workers)
    return (start_s if workers > 1 else 0.0) + rounds * run_s * slowdown, workers, rounds


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s ({seconds / 60:.1f} min)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=50, help="cells of the study, the baseline included")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--old-cells", type=int, default=6, help="cells bootstrapped before: baseline + 5 best")
    parser.add_argument("--clips", type=int, default=1168, help="DESED validation: 1,168 clips of 10 s")
    parser.add_argument("--resamples", type=int, default=1000, help="the report's n_resamples")
    parser.add_argument("--runs-timed", type=int, default=6, help="distinct runs timed per scenario")
    parser.add_argument("--timed-resamples", type=int, nargs=2, default=[100, 300], metavar=("FEW", "MORE"),
                        help="the two resample counts timed; the larger one's cost per resample scales to --resamples")
    parser.add_argument("--pool-runs", type=int, default=0,
                        help="runs of the real process-pool check (default: 2 per worker; -1 skips it)")
    parser.add_argument("--other-cores", type=int, default=16, help="the larger machine of the estimate")
    parser.add_argument("--classes", type=int, default=3, help="fabricated classes (the test's 3; DESED has 10)")
    parser.add_argument("--frames", type=int, default=40, help="frames per 10 s clip (the test's 40; CRNN: 156)")
    args = parser.parse_args()
    few, more = sorted(args.timed_resamples)
    if few == more or few < 1:
        parser.error("--timed-resamples needs two different counts >= 1")
    cores = os.cpu_count() or 1
    new_runs, old_runs = args.cells * args.seeds, args.old_cells * args.seeds

    module = _fabricated_module(args.classes, args.frames)
    tables, reference = _runs(module, args.clips, max(args.runs_timed, 1))
    clips = sorted(tables[0]["filename"].unique())
    draws = clip_draws(len(clips), more, seed=0)  # clip_draws(n, few, 0) is its first `few`: the same draws
    table_mb = tables[0].memory_usage(deep=True).sum() / 2**20
    print(f"{len(clips)} clips of {CLIP_S:.0f} s, {len(module.CLASSES)} classes, {module.FRAMES} frames per clip "
          f"({len(tables[0])} score rows, {table_mb:.1f} MiB a run in memory); {len(tables)} distinct runs timed at "
          f"{few} and {more} resamples, scaled to {args.resamples}; {cores} cores (os.cpu_count()), load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"new: {args.cells} cells x {args.seeds} seeds = {new_runs} runs, {args.cells - 1} comparisons; "
          f"old: {args.old_cells} cells x {args.seeds} seeds = {old_runs} runs, {args.old_cells - 1} comparisons")

    per_scenario = {}
    for name, scenario in DEFAULT_PSDS_SCENARIOS.items():
        statistic = PsdsStatistic(reference, scenario)
        totals = {few: [], more: []}
        prepares = {few: [], more: []}
        values = []
        for table in tables:
            for count in (few, more):
                timed = _TimedPrepare(statistic)
                started = time.perf_counter()
                result = statistic_values(table, timed, clips, draws[:count])
                totals[count].append(time.perf_counter() - started)
                prepares[count].append(timed.seconds)
            values.append(result)
        prepare_s = statistics.mean(prepares[few] + prepares[more])
        per_resample = {count: statistics.mean((t - p) / (count + 1) for t, p in zip(totals[count], prepares[count]))
                        for count in (few, more)}
        run_s = prepare_s + (args.resamples + 1) * per_resample[more]
        spread = (max(totals[more]) - min(totals[more])) / statistics.mean(totals[more])
        print(f"\n{name}: prepare {prepare_s:.2f} s a run; per resample {per_resample[few] * 1000:.2f} ms at {few}, "
              f"{per_resample[more] * 1000:.2f} ms at {more} (ratio {per_resample[more] / per_resample[few]:.2f}: "
              f"1 is linear)")
        print(f"  one run at {more} resamples: {statistics.mean(totals[more]):.2f} s (min {min(totals[more]):.2f}, "
              f"max {max(totals[more]):.2f}, spread {spread:.0%} over {len(tables)} runs); scaled to "
              f"{args.resamples} resamples (prepare + {args.resamples + 1} x {per_resample[more] * 1000:.2f} ms): "
              f"{run_s:.2f} s a run")
        per_scenario[name] = {"run_s": run_s, "few_s": statistics.mean(totals[few]), "values": values,
                              "statistic": statistic}

    workers = max(1, min(new_runs, cores))
    start_s = _pool_start(workers) if workers > 1 else 0.0
    print(f"\nspawn pool of {workers} workers started (each importing the report) and shut down: {start_s:.2f} s")
    pool_runs = 2 * workers if args.pool_runs == 0 else args.pool_runs
    for data in per_scenario.values():
        data["slowdown"] = 1.0
    if pool_runs >= 1 and workers > 1:
        pool_workers = min(pool_runs, cores)
        started = time.perf_counter()
        with _spawn_pool(pool_workers) as pool:
            futures = {name: [pool.submit(_timed_values, tables[i % len(tables)], data["statistic"], clips,
                                          draws[:few]) for i in range(pool_runs)]
                       for name, data in per_scenario.items()}
            inside = {name: [future.result() for future in group] for name, group in futures.items()}
        measured = time.perf_counter() - started
        rounds = math.ceil(pool_runs / pool_workers)
        predicted = start_s
        for name, data in per_scenario.items():
            data["slowdown"] = max(1.0, statistics.mean(inside[name]) / data["few_s"])
            predicted += rounds * data["few_s"] * data["slowdown"]
            print(f"{name}: {pool_runs} runs x {few} resamples in the pool's {pool_workers} workers: "
                  f"{statistics.mean(inside[name]):.2f} s a run there, {data['few_s']:.2f} s serially here: "
                  f"parallel slowdown {data['slowdown']:.2f}")
        print(f"the pool's wall time for both: {measured:.2f} s; start-up + rounds x run x slowdown predicts "
              f"{predicted:.2f} s (ratio {measured / predicted:.2f})")

    name = next(iter(per_scenario))
    length = args.resamples + 1
    pool = [np.resize(v, length) for v in per_scenario[name]["values"]]  # real values, at the report's length
    comparisons = {}
    for label, cells in (("new", args.cells), ("old", args.old_cells)):
        started = time.perf_counter()
        for cell in range(1, cells):
            base = [pool[seed % len(pool)] for seed in range(args.seeds)]
            mine = [pool[(cell + seed) % len(pool)] for seed in range(args.seeds)]
            paired_result(base, mine, n_clips=len(clips))
        comparisons[label] = time.perf_counter() - started
    print(f"\npaired_result, {args.seeds} seed pairs x {length} values: {args.cells - 1} comparisons "
          f"{comparisons['new'] * 1000:.1f} ms, {args.old_cells - 1} comparisons {comparisons['old'] * 1000:.1f} ms")

    print(f"\nextrapolated wall time at {args.resamples} resamples (start-up + rounds x run x slowdown; the "
          f"{args.other_cores}-core machine at this machine's speed per core, no slowdown), with the "
          f"{args.cells - 1} or {args.old_cells - 1} comparisons:")
    header = (f"{'scenario':<8} {'s a run':>8} {f'{old_runs} runs, {cores} cores':>22} "
              f"{f'{new_runs} runs, {cores} cores':>22} {'ratio':>6} {'same, slowdown 1':>18} "
              f"{f'{old_runs} runs, {args.other_cores} cores':>22} {f'{new_runs} runs, {args.other_cores} cores':>22} "
              f"{'ratio':>6}")
    print(header)
    for name, data in per_scenario.items():
        old, old_workers, old_rounds = _wall(old_runs, cores, data["run_s"], start_s, data["slowdown"])
        new, new_workers, new_rounds = _wall(new_runs, cores, data["run_s"], start_s, data["slowdown"])
        old += comparisons["old"]
        new += comparisons["new"]
        ideal, *_ = _wall(new_runs, cores, data["run_s"], start_s, 1.0)
        old_big, *_ = _wall(old_runs, args.other_cores, data["run_s"], start_s, 1.0)
        new_big, *_ = _wall(new_runs, args.other_cores, data["run_s"], start_s, 1.0)
        ideal, old_big, new_big = (ideal + comparisons["new"], old_big + comparisons["old"],
                                   new_big + comparisons["new"])
        print(f"{name:<8} {data['run_s']:>8.2f} {_minutes(old):>22} {_minutes(new):>22} {new / old:>5.2f}x "
              f"{_minutes(ideal):>18} {_minutes(old_big):>22} {_minutes(new_big):>22} {new_big / old_big:>5.2f}x")
    print(f"({old_runs} runs: {old_workers} workers, {old_rounds} rounds; {new_runs} runs: {new_workers} workers, "
          f"{new_rounds} rounds on this machine. The report bootstraps one scenario; both: the sum. Loading the "
          f"runs' scores from MLflow is not included; the parent holds all {new_runs} tables: "
          f"{table_mb * new_runs / 1024:.2f} GiB at this table size.) Load average at the end: "
          f"{os.getloadavg()[0]:.1f}.")


if __name__ == "__main__":
    main()
