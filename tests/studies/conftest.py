"""Real services for integration tests, bound to 127.0.0.1 and stopped by the process group they started."""
from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)


def sedstudy(*args: str) -> list[str]:
    """The `sedstudy` command line, run by this interpreter (the console script need not be on PATH)."""
    return [sys.executable, "-c", "import sys; from studies.cli import main; sys.exit(main())", *args]


def four_trial_study(name: str, data_root: Path) -> str:
    """A study YAML of 4 tiny trials (2 poolings x 2 seeds, 3 epochs of 3 steps), run two at a time on 2 cores: a
    fault injected once the first trial finishes lands with trials still to run."""
    return f"""
name: {name}
experiment:
  preset: tiny
  data: {{root: {data_root}}}
  training: {{epochs: 3, steps_per_epoch: 3}}
synthetic_data: {{preset: tiny, seed: 0}}
design:
  factors:
    model.pooling: [attention, max]
seeds: [1, 2]
"""


def study_runs(workdir: Path, study: str, kind: str) -> list:
    """The study's runs of `kind` (trial, study, tune) in the workdir's SQLite store; [] before the experiment
    exists (the driver may still be creating the store)."""
    from studies.tracking import default_tracking_uri, open_client

    client = open_client(default_tracking_uri(workdir))
    experiment = client.get_experiment_by_name(study)
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], f"tags.`sedstudy.kind` = '{kind}'")


def kill_driver(driver: subprocess.Popen) -> None:
    """SIGKILL the group of a driver started with start_new_session: the driver and an in-process Ray it started
    (left behind if the driver died first), never a cluster it joined."""
    with contextlib.suppress(ProcessLookupError):  # the whole group has exited
        os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()


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
    worker: subprocess.Popen | None = None  # the worker node's `ray start --block`, leader of its process group


@contextlib.contextmanager
def ray_cluster(logs: Path) -> Iterator[RayCluster]:
    """A head and a worker node started with `ray start --block`, 1 CPU each, token auth (Ray 2.60); logs in
    ``logs``; stopped by the process groups we started when the block ends."""
    import shutil
    import tempfile

    # our own temp dir (short: Ray's socket paths must fit 107 characters), so nothing is left in /tmp/ray for
    # other Ray users on this machine (ray start records the cluster there for later ray.init() calls)
    ray_tmp = tempfile.mkdtemp(prefix="sr-", dir="/tmp")
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_TMPDIR": ray_tmp}
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats", "--block"]
    head = start([str(BIN / "ray"), "start", "--head", "--port", str(port), "--include-dashboard", "false",
                  *common], logs / "ray_head.log", env)
    processes = [head]
    try:
        wait_for(lambda: "--block" in (logs / "ray_head.log").read_text(), "the Ray head", logs / "ray_head.log")
        worker = start([str(BIN / "ray"), "start", "--address", address, *common], logs / "ray_worker.log", env)
        processes.append(worker)
        wait_for(lambda: "--block" in (logs / "ray_worker.log").read_text(), "the Ray worker node",
                 logs / "ray_worker.log")
        yield RayCluster(address, {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": env["RAY_AUTH_TOKEN"],
                                   "RAY_TMPDIR": ray_tmp}, worker)
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(ray_tmp, ignore_errors=True)


@pytest.fixture()
def two_node_ray_cluster(tmp_path: Path) -> Iterator[RayCluster]:
    """A two-node cluster of the test's own, for a test that breaks it (kills a node)."""
    with ray_cluster(tmp_path) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def shared_ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    """One two-node cluster for every test that only runs studies on it (drivers may be killed, nodes never):
    each study is its own Ray job, so tests see nothing of each other's but the CPUs, which they use one at a
    time. Starting one costs 10-20 s of the 2 cores."""
    with ray_cluster(tmp_path_factory.mktemp("ray_cluster")) as cluster:
        yield cluster


def server_env() -> dict[str, str]:
    """The environment of an `mlflow server` we start: without MLflow 3's job execution (a job runner and four
    huey consumers, five more Python processes per server that sedstudy never uses)."""
    return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


@dataclass(frozen=True)
class TrackingServer:
    uri: str  # http://127.0.0.1:<port>
    artifacts: Path  # its --artifacts-destination


@pytest.fixture(scope="session")
def shared_mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingServer]:
    """One `mlflow server` (SQLite store, served artifacts) for every test that only writes studies of its own
    name into it; a test that stops or restarts its server has its own (`restartable_mlflow_server`)."""
    root = tmp_path_factory.mktemp("mlflow_server")
    port = free_port()
    server = start([sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
                    f"sqlite:///{root / 'server.db'}", "--artifacts-destination", str(root / "served"),
                    "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                   root / "mlflow_server.log", server_env())

    try:
        wait_for(lambda: port_answers(port), "the MLflow server", root / "mlflow_server.log")
        yield TrackingServer(f"http://127.0.0.1:{port}", root / "served")
    finally:
        stop(server)


class MlflowServer:
    """An `mlflow server` on one port and one SQLite store that a test can stop and start again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = self.root / f"mlflow_server.{self.starts}.log"
        self.process = start([sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
                              f"sqlite:///{self.root / 'server.db'}", "--artifacts-destination",
                              str(self.root / "served"), "--host", "127.0.0.1", "--port", str(self.port),
                              "--workers", "1"], log, server_env())
        wait_for(lambda: port_answers(self.port), "the MLflow server", log)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None
        deadline = time.monotonic() + 30
        while port_answers(self.port) and time.monotonic() < deadline:
            time.sleep(0.5)


@pytest.fixture()
def restartable_mlflow_server(tmp_path: Path) -> Iterator[MlflowServer]:
    """Like `mlflow_server`, but the test may `stop()` and `start()` it again (same port, same store)."""
    server = MlflowServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


POSTGRES_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))


@pytest.fixture()
def postgres_uri() -> Iterator[str]:
    """A throwaway PostgreSQL server (Debian's packages) on 127.0.0.1, run as the `postgres` user."""
    import pwd
    import shutil
    import tempfile

    if not POSTGRES_BINARIES or os.geteuid() != 0:
        pytest.skip("needs Debian's postgresql package and root (to run it as the postgres user); .ci/run installs it")
    bindir = POSTGRES_BINARIES[-1].parent
    user = pwd.getpwnam("postgres")
    root = Path(tempfile.mkdtemp(prefix="sedstudy-pg-"))  # outside pytest's 0700 tmp dirs, which postgres can't enter
    os.chown(root, user.pw_uid, user.pw_gid)
    data, port = root / "data", free_port()

    def as_postgres(*command: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command]

    subprocess.run(as_postgres(str(bindir / "initdb"), "-D", str(data), "-U", "mlflow", "--auth=trust"),
                   check=True, capture_output=True)
    log = root / "postgres.log"
    server = subprocess.Popen(as_postgres(str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root),
                                          "-c", "listen_addresses=127.0.0.1"),
                              stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: subprocess.run(as_postgres(str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)),
                                        capture_output=True).returncode == 0, "PostgreSQL", log)
        subprocess.run(as_postgres(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "mlflow",
                                   "mlflow"), check=True, capture_output=True)
        yield f"postgresql+psycopg2://mlflow@127.0.0.1:{port}/mlflow"
    finally:
        stop(server)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def mlflow_server_on_postgres(tmp_path: Path, postgres_uri: str) -> Iterator[str]:
    port = free_port()
    server = start([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", postgres_uri,
                    "--artifacts-destination", str(tmp_path / "served"), "--host", "127.0.0.1", "--port", str(port),
                    "--workers", "1"], tmp_path / "mlflow_pg_server.log", server_env())

    try:
        wait_for(lambda: port_answers(port), "the MLflow server on PostgreSQL", tmp_path / "mlflow_pg_server.log")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(server)


@pytest.fixture(scope="session")
def shared_ray() -> Iterator[Callable[[], None]]:
    """One in-process Ray for the session's in-process studies: `run_study` joins a Ray that runs already instead
    of starting (10 s on a busy machine) and stopping its own. Yields `ensure()`, which starts it again where a
    test with a Ray of its own (test_fault_oom) stopped it; stopped at the end of the session."""
    import ray

    def ensure() -> None:
        if not ray.is_initialized():  # the same call as studies.launcher._start_ray
            ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
                     configure_logging=False)

    ensure()
    try:
        yield ensure
    finally:
        ray.shutdown()


@pytest.fixture()
def in_process_ray(shared_ray: Callable[[], None]) -> None:
    """The session's in-process Ray, running (see `shared_ray`)."""
    shared_ray()
