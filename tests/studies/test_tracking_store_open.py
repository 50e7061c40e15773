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
from studies.tracking import open_client
uri, start, name = sys.argv[1], float(sys.argv[2]), sys.argv[3]
time.sleep(max(0.0, start - time.time()))
open_client(uri).create_experiment(name)
"""


@pytest.mark.slow
def test_processes_opening_a_new_sqlite_store_at_once_all_succeed(tmp_path: Path) -> None:
    from studies.tracking import open_client

    for attempt in range(2):
        store = tmp_path / f"store{attempt}"
        store.mkdir()
        uri = f"sqlite:///{store / 'mlflow.db'}"
        start = time.time() + 15  # after every process has imported MLflow
        processes = [subprocess.Popen([sys.executable, "-c", OPEN_AT, uri, str(start), f"exp{i}"],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                     for i in range(PROCESSES)]
        outputs = [p.communicate(timeout=120)[0] for p in processes]
        failed = [out[-1500:] for p, out in zip(processes, outputs) if p.returncode != 0]
        assert not failed, failed
        names = {e.name for e in open_client(uri).search_experiments()}
        assert names == {"Default", *(f"exp{i}" for i in range(PROCESSES))}
