"""What a trial costs: wall time, GPU hours and energy, measured where the trial runs, summed over its attempts.

CPU and GPU utilisation (`cost/*_utilization_percent`) are CodeCarbon's samples of the current attempt.
Energy comes from CodeCarbon (the tool DCASE asks for): GPU energy through NVML when a GPU is used, CPU energy
through RAPL when its counters are readable, otherwise estimated from the CPU load and the model's TDP; the
`cost/cpu_energy_measured` flag says which. Totals are written to `cost.json` beside the trial's checkpoint
at every report, so a resumed trial adds to what its earlier attempts spent up to their last checkpoint.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

COST_FILE = "cost.json"
PREFIX = "cost/"
MEASURED_CPU_MODES = ("rapl", "powermetrics")


@dataclass
class Spent:
    wall_s: float = 0.0
    gpu_hours: float = 0.0
    energy_kwh: float = 0.0
    cpu_energy_kwh: float = 0.0
    gpu_energy_kwh: float = 0.0
    ram_energy_kwh: float = 0.0
    attempts: int = 0

    def plus(self, other: Spent) -> Spent:
        return Spent(**{k: getattr(self, k) + getattr(other, k) for k in asdict(self)})


class TrialCost:
    """Start when the trial (attempt) starts; `metrics()` at each report gives the trial's cost so far."""

    def __init__(self, output_dir: Path, *, gpus: float = 0.0, energy: bool = True) -> None:
        self.path = Path(output_dir) / COST_FILE
        self.before = self._earlier_attempts()
        self.gpus = gpus
        self.started = time.monotonic()
        self._latest = None
        self.tracker = self._start_tracker() if energy else None
        self.cpu_measured = self._cpu_measured()

    def _earlier_attempts(self) -> Spent:
        if not self.path.is_file():
            return Spent()
        try:
            return Spent(**json.loads(self.path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as error:
            logger.warning("ignoring unreadable %s (%s): earlier attempts' cost is not counted", self.path, error)
            return Spent()

    def _start_tracker(self):
        try:
            from codecarbon import OfflineEmissionsTracker
            from codecarbon.output_methods.base_output import BaseOutput
        except ImportError:  # pragma: no cover - codecarbon is a dependency
            logger.warning("codecarbon is not installed: energy is not measured")
            return None
        cost = self

        class Latest(BaseOutput):
            def out(self, total, delta) -> None:
                cost._latest = total

        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        try:
            # the country only sets the carbon intensity (not recorded here); energy does not depend on it
            tracker = OfflineEmissionsTracker(country_iso_code="FRA", output_methods=[], log_level="error",
                                              tracking_mode="process", output_handlers=[Latest()],
                                              measure_power_secs=15, allow_multiple_runs=True)
            tracker.start()
        except Exception as error:  # noqa: BLE001 - a broken energy meter must not fail the trial
            logger.warning("energy is not measured: codecarbon could not start (%s)", error)
            return None
        return tracker

    def _cpu_measured(self) -> bool:
        modes = [str(getattr(h, "_mode", "")).lower() for h in getattr(self.tracker, "_hardware", [])
                 if type(h).__name__ == "CPU"]
        return any(m in mode for mode in modes for m in MEASURED_CPU_MODES)

    def spent(self) -> Spent:
        """This trial's cost so far (earlier attempts included); also written to cost.json."""
        wall = time.monotonic() - self.started
        now = Spent(wall_s=wall, gpu_hours=self.gpus * wall / 3600, attempts=1)
        if self.tracker is not None:
            try:
                self.tracker.flush()
            except Exception as error:  # noqa: BLE001
                logger.warning("codecarbon flush failed: %s", error)
            data = self._latest
            if data is not None:
                now.energy_kwh, now.cpu_energy_kwh = float(data.energy_consumed), float(data.cpu_energy)
                now.gpu_energy_kwh, now.ram_energy_kwh = float(data.gpu_energy), float(data.ram_energy)
        total = self.before.plus(now)
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(asdict(total)), encoding="utf-8")
        tmp.replace(self.path)
        return total

    def metrics(self) -> dict[str, float]:
        total = self.spent()
        out = {f"{PREFIX}{k}": float(v) for k, v in asdict(total).items()}
        out[f"{PREFIX}energy_measured"] = float(self.tracker is not None)
        out[f"{PREFIX}cpu_energy_measured"] = float(self.cpu_measured)
        data = self._latest  # utilisation of this attempt so far, as CodeCarbon samples it (psutil, NVML)
        for name in ("cpu_utilization_percent", "gpu_utilization_percent"):
            value = getattr(data, name, None)
            if isinstance(value, (int, float)):
                out[f"{PREFIX}{name}"] = float(value)
        return out

    def stop(self) -> None:
        if self.tracker is not None:
            try:
                self.tracker.stop()
            except Exception as error:  # noqa: BLE001
                logger.warning("codecarbon stop failed: %s", error)
            self.tracker = None
