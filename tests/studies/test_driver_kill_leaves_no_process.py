"""A driver SIGKILLed mid-study (the driver alone, as the OOM killer or `kill -9 PID` does) leaves no process of its
in-process Ray behind: Ray's GCS, raylet and trial workers go with it at once; its two agents (dashboard and
runtime-env) notice their raylet is gone, try to report it to the dead GCS, and exit when that call times out
(measured: 65 s). Nothing is left after that."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from .conftest import four_trial_study, kill_driver, sedstudy

AGENTS = ("DashboardAgent", "RuntimeEnvAgent")


def session_processes(sid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getsid(process.pid) == sid:
                found.append(process)
        except (ProcessLookupError, PermissionError):
            continue
    return found


def names(processes: list[psutil.Process]) -> list[str]:
    """Each process's name and command line, whole: a clone under a long path puts "raylet" past any cut."""
    out = []
    for process in processes:
        try:
            out.append(f"{process.name()}: {' '.join(process.cmdline())}")
        except psutil.Error:
            continue
    return out


@pytest.mark.slow
def test_a_killed_driver_leaves_no_ray_process_behind(tmp_path: Path, tiny_dataset: Path) -> None:
    (tmp_path / "orphans.yaml").write_text(four_trial_study("orphans", tiny_dataset)
                                           .replace("epochs: 3, steps_per_epoch: 3", "epochs: 30, steps_per_epoch: 3"))
    log = tmp_path / "driver.log"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    driver = subprocess.Popen(sedstudy("run", str(tmp_path / "orphans.yaml"), "--workdir", str(tmp_path / "work"),
                                       "--no-report"),
                              stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and "epoch 1/30" not in log.read_text() and driver.poll() is None:
            time.sleep(1)
        assert driver.poll() is None and "epoch 1/30" in log.read_text(), log.read_text()[-3000:]
        assert any("raylet" in n for n in names(session_processes(driver.pid)))  # its Ray runs
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        time.sleep(15)
        left = names(session_processes(driver.pid))
        assert all(any(agent in n for agent in AGENTS) for n in left), left  # at most the two agents, waiting
        deadline = time.monotonic() + 150
        while session_processes(driver.pid) and time.monotonic() < deadline:
            time.sleep(2)
        assert not session_processes(driver.pid), names(session_processes(driver.pid))
    finally:
        kill_driver(driver)  # whatever is left of the group, should the test fail
        for process in session_processes(driver.pid):
            process.kill()
