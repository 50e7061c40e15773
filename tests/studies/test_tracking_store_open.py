"""A new SQLite tracking store opened by several processes at once (a study starting beside `sedstudy status`,
`sedstudy ui` or another study): MLflow's table creation and migrations race, so open_client serialises them."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

PROCESSES = 4
OPEN_AT = """
import sys, time
from pathlib import Path
from studies.tracking import open_client
uri, barrier, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
(barrier / f"{name}.ready").touch()  # MLflow is imported: wait for the others, then open the store together
while not (barrier / "go").exists():
    time.sleep(0.005)
open_client(uri).create_experiment(name)
"""


@pytest.mark.slow
def test_processes_opening_a_new_sqlite_store_at_once_all_succeed(tmp_path: Path) -> None:
    from studies.tracking import open_client

    for attempt in range(2):
        store, barrier = tmp_path / f"store{attempt}", tmp_path / f"barrier{attempt}"
        store.mkdir()
        barrier.mkdir()
        uri = f"sqlite:///{store / 'mlflow.db'}"
        processes = [subprocess.Popen([sys.executable, "-c", OPEN_AT, uri, str(barrier), f"exp{i}"],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                     for i in range(PROCESSES)]
        deadline = time.monotonic() + 120
        while len(list(barrier.glob("*.ready"))) < PROCESSES and time.monotonic() < deadline:
            if any(p.poll() is not None for p in processes):
                break  # one died before the barrier: its output says why below
            time.sleep(0.05)
        (barrier / "go").touch()  # every process has imported MLflow: they open the new store at once
        outputs = [p.communicate(timeout=120)[0] for p in processes]
        failed = [out[-1500:] for p, out in zip(processes, outputs) if p.returncode != 0]
        assert not failed, failed
        names = {e.name for e in open_client(uri).search_experiments()}
        assert names == {"Default", *(f"exp{i}" for i in range(PROCESSES))}
