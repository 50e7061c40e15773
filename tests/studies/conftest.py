"""Real services for integration tests, bound to 127.0.0.1 and stopped by the process group they started."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the group we started (the process and everything it spawned), SIGKILL what is left."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_for(check, what: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise TimeoutError(f"{what} did not come up in {timeout:.0f} s; log {log}:\n{log.read_text()[-3000:]}")


@dataclass(frozen=True)
class RayCluster:
    address: str
    env: dict[str, str]  # what a driver needs (RAY_AUTH_MODE=token and the token)


@pytest.fixture()
def two_node_ray_cluster(tmp_path: Path) -> Iterator[RayCluster]:
    """A head and a worker node started with `ray start --block`, 1 CPU each, token auth (Ray 2.60)."""
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats", "--block"]
    head = start([str(BIN / "ray"), "start", "--head", "--port", str(port), "--include-dashboard", "false",
                  *common], tmp_path / "ray_head.log", env)
    processes = [head]
    try:
        wait_for(lambda: "--block" in (tmp_path / "ray_head.log").read_text(), "the Ray head",
                 tmp_path / "ray_head.log")
        worker = start([str(BIN / "ray"), "start", "--address", address, *common], tmp_path / "ray_worker.log", env)
        processes.append(worker)
        wait_for(lambda: "--block" in (tmp_path / "ray_worker.log").read_text(), "the Ray worker node",
                 tmp_path / "ray_worker.log")
        yield RayCluster(address, {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": env["RAY_AUTH_TOKEN"]})
    finally:
        for process in reversed(processes):
            stop(process)


@pytest.fixture()
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    """`mlflow server` on a SQLite store with served artifacts; yields its http URI."""
    port = free_port()
    server = start([sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
                    f"sqlite:///{tmp_path / 'server.db'}", "--artifacts-destination", str(tmp_path / "served"),
                    "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                   tmp_path / "mlflow_server.log", dict(os.environ))

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    try:
        wait_for(answers, "the MLflow server", tmp_path / "mlflow_server.log")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(server)
