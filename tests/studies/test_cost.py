"""A trial's cost: wall time, GPU hours and energy so far, summed over attempts through cost.json."""
from __future__ import annotations

import json
from pathlib import Path

from studies.cost import COST_FILE, TrialCost


def test_cost_grows_and_is_carried_to_a_later_attempt(tmp_path: Path) -> None:
    first = TrialCost(tmp_path, gpus=0.5)
    sum(i * i for i in range(200_000))
    one = first.metrics()
    two = first.metrics()
    first.stop()
    assert two["cost/wall_s"] >= one["cost/wall_s"] > 0
    assert two["cost/gpu_hours"] == 0.5 * two["cost/wall_s"] / 3600
    assert one["cost/energy_measured"] == 1.0 and two["cost/energy_kwh"] >= one["cost/energy_kwh"] > 0
    assert two["cost/energy_kwh"] >= two["cost/cpu_energy_kwh"] and two["cost/attempts"] == 1
    assert 0 <= two["cost/cpu_utilization_percent"] <= 100 and two["cost/gpu_utilization_percent"] == 0
    assert json.loads((tmp_path / COST_FILE).read_text())["wall_s"] == two["cost/wall_s"]

    second = TrialCost(tmp_path, gpus=0.5, energy=False)  # a resumed attempt adds to the first one's cost
    three = second.metrics()
    assert three["cost/attempts"] == 2 and three["cost/wall_s"] > two["cost/wall_s"]
    assert three["cost/energy_kwh"] == two["cost/energy_kwh"] and three["cost/energy_measured"] == 0.0


def test_an_unreadable_cost_file_is_not_fatal(tmp_path: Path) -> None:
    (tmp_path / COST_FILE).write_text("{not json")
    cost = TrialCost(tmp_path, energy=False)
    assert cost.metrics()["cost/attempts"] == 1
