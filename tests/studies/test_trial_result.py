"""A trial's metrics travel to the driver packed in one string: Tune keeps no per-key statistics of them."""
from __future__ import annotations

import math

from studies.trial_result import ENVIRONMENT_KEY, METRICS_KEY, NODE_KEY, metrics_of, tune_result


def test_packed_metrics_come_back_exactly_with_tunes_own_numbers_beside_them():
    metrics = {"train/loss": 0.1 + 0.2, "psds1/class/Speech": 1 / 3, "cost/gpu_hours": 2.5e-7, "epoch": 4.0,
               "nan_metric": math.nan}
    result = tune_result(metrics, step=4, node="abc", environment='{"torch": "2"}',
                         tune_metrics={"tune/objective": 0.5})
    result.update({"training_iteration": 5, "time_this_iter_s": 1.0, "done": False})  # what Ray adds
    back = metrics_of(result)
    assert set(back) == {*metrics, "tune/objective"}
    assert all(back[k] == v for k, v in metrics.items() if not math.isnan(v)) and math.isnan(back["nan_metric"])
    assert result[NODE_KEY] == "abc" and result[ENVIRONMENT_KEY] == '{"torch": "2"}' and result["step"] == 4
    assert metrics_of(None) == {} and metrics_of({}) == {}


def test_tune_keeps_statistics_only_of_the_numbers_it_acts_on():
    from ray.tune.experiment import Trial

    trial = Trial("run_trial", config={}, stub=True)
    metrics = {f"psds1/class/c{i}": i / 10 for i in range(10)} | {"train/loss": 1.0}
    for step in range(3):
        trial.update_last_result(tune_result(metrics, step=step, node="n", tune_metrics={"tune/epochs": step + 1}))
    analysed = set(trial.run_metadata.metric_analysis)
    assert "tune/epochs" in analysed and not analysed & set(metrics) and METRICS_KEY not in analysed
    assert metrics_of(trial.last_result)["psds1/class/c3"] == 0.3
