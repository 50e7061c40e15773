"""The figure of bench/RESULTS.md's "At cluster scale": the engine's cost per trial against the concurrency and
against the number of trials, from one or more `scale.json` files that bench/scale.py wrote.

    .venv/bin/python bench/scale_figure.py /tmp/sedstudy_bench/scale/scale.json [more scale.json ...] \
        --out bench/scale.svg

Each point is one setting (C concurrent trials, N trials) of one arm: the driver's CPU time per trial and the wall
time beyond an ideal schedule of the sleeps per trial. A setting met in several files keeps its last one.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ARMS = {"tune": ("Ray Tune alone", "tab:gray"), "sedstudy": ("sedstudy", "tab:blue")}
MEASURES = {"driver_cpu": ("driver CPU", "-"), "excess_wall": ("wall beyond the sleeps", "--")}


def points(rows: list[dict[str, Any]], epochs: int, epoch_s: float) -> list[dict[str, Any]]:
    """One point per (arm, concurrency, trials): its per-trial driver CPU and excess wall."""
    found: dict[tuple[str, int, int], dict[str, Any]] = {}
    for row in rows:
        c, n = int(row["concurrency"]), int(row["trials"])
        ideal = -(-n // c) * epochs * epoch_s
        for arm in ARMS:
            if arm in row:
                found[(arm, c, n)] = {"arm": arm, "c": c, "n": n, "driver_cpu": row[arm]["driver_cpu_s"] / n,
                                      "excess_wall": (row[arm]["wall_s"] - ideal) / n}
    return sorted(found.values(), key=lambda p: (p["arm"], p["c"], p["n"]))


def draw(found: list[dict[str, Any]], out: Path, largest_c: int) -> None:
    plt.rcParams["svg.hashsalt"] = "sedstudy"  # the same numbers give the same file
    figure, (by_c, by_n) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for arm, (label, colour) in ARMS.items():
        for measure, (what, style) in MEASURES.items():
            mine = [p for p in found if p["arm"] == arm]
            smallest = {}
            for p in mine:  # against C: each concurrency's shortest run (3 waves), as the small setting runs it
                smallest.setdefault(p["c"], p)
            at_c = sorted(smallest.values(), key=lambda p: p["c"])
            at_n = sorted((p for p in mine if p["c"] == largest_c), key=lambda p: p["n"])
            for axes, chosen, x in ((by_c, at_c, "c"), (by_n, at_n, "n")):
                if chosen:
                    axes.plot([p[x] for p in chosen], [p[measure] for p in chosen], style, marker="o",
                              color=colour, label=f"{label}: {what}")
    by_c.set(xscale="log", xlabel="concurrent trials", ylabel="seconds per trial",
             title="per trial, against the concurrency")
    by_n.set(xscale="log", xlabel="trials in the study", ylabel="seconds per trial",
             title=f"per trial, against the trials ({largest_c} concurrent)")
    for axes in (by_c, by_n):
        axes.set_ylim(bottom=0)
        axes.grid(True, alpha=0.3)
    by_n.legend(fontsize=8)
    figure.savefig(out, metadata={"Date": None})
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, nargs="+", help="scale.json files of bench/scale.py")
    parser.add_argument("--epochs", type=int, default=2, help="the runs' --epochs")
    parser.add_argument("--epoch-s", type=float, default=1.0, help="the runs' --epoch-s")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("scale.svg"))
    args = parser.parse_args()
    rows = [row for path in args.results for row in json.loads(path.read_text())]
    found = points(rows, args.epochs, args.epoch_s)
    draw(found, args.out, max(p["c"] for p in found))
    for p in found:
        print(f"{p['arm']:>8} C={p['c']:<3} N={p['n']:<6} driver CPU {p['driver_cpu']:.3f} s/trial, "
              f"excess wall {p['excess_wall']:.3f} s/trial")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
