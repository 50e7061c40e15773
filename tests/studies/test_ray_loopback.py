"""The in-process Ray a study starts listens on the loopback interface only (issue 21, point 10)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Starts Ray as `sedstudy run` does, then lists the listening TCP sockets of every process it started.
PROBE = """
import json, os, time
import psutil, ray
from studies.launcher import _start_ray
assert _start_ray(None)
time.sleep(3)  # the agents open their ports after ray.init returns
ours = [psutil.Process(os.getpid()), *psutil.Process(os.getpid()).children(recursive=True)]
listening = []
for process in ours:
    try:
        for c in process.net_connections(kind="tcp"):
            if c.status == psutil.CONN_LISTEN:
                listening.append([process.name(), c.laddr.ip, c.laddr.port])
    except psutil.NoSuchProcess:
        pass
ray.shutdown()
print(json.dumps(listening))
"""


@pytest.mark.integration
def test_in_process_ray_listens_on_loopback_only() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    listening = json.loads(result.stdout.strip().splitlines()[-1])
    names = {name for name, _, _ in listening}
    assert any("gcs_server" in n for n in names) and any("raylet" in n for n in names), listening
    exposed = [entry for entry in listening if entry[1] not in ("127.0.0.1", "::ffff:127.0.0.1", "::1")]
    assert exposed == [], exposed
