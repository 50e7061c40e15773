"""The engine at cluster scale: a study of simulated trials on a multi-node Ray cluster of logical GPUs, its MLflow
server on PostgreSQL (SQLite when PostgreSQL cannot run here), against Ray Tune running the same sleeping trials
with no sedstudy code, on the same cluster in the same run.

    .venv/bin/python bench/scale.py                                    # small: 1, 8, 64 concurrent (minutes)
    .venv/bin/python bench/scale.py --trials 10000 --concurrency 64    # the record (hours on 2 cores)

For each concurrency C a `ray.cluster_utils.Cluster` of min(4, C) nodes holds C logical GPUs (and C CPUs);
every trial asks for 1 GPU and 1 CPU, so C run at once. Each arm runs in its own driver process (its CPU time and
peak memory are its own):
- tune: `tune.Tuner` over N sleeping trials (per epoch: sleep, a checkpoint folder, a report of the same size);
- sedstudy: `studies.launcher.run_study` over an N-trial study (N/5 cells x 5 seeds) whose trainer is
  bench/simulated_fit.py: the real launcher, tracker, callbacks, provenance, cost logging and checkpoint
  hand-over, with sleeps for training.
Per arm: wall time beyond the sleeps, the driver's CPU time per trial, its peak RSS, the size of Tune's experiment
state; for sedstudy, the MLflow calls the driver made (count, time) and the latency from a trial's report to its
row in the store (percentiles, and first vs last quarter: a growing backlog shows as a later quarter that waits
longer). At the largest setting, on the finished store: `sedstudy resume` with 10 trial runs deleted (time to
the decision line), `sedstudy status` and `sedstudy report`. Prints a table and writes `scale.json` to --out.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = Path(tempfile.gettempdir()) / "sedstudy_bench" / "scale"
SEEDS = 5
NODES = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, what: str, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{what} did not come up; see {log}")


def stop_group(process: subprocess.Popen) -> None:
    import signal

    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def postgres(root: Path):
    """A throwaway PostgreSQL (Debian's package) on 127.0.0.1, run as the postgres user; needs root."""
    import pwd

    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not binaries or os.geteuid() != 0:
        raise RuntimeError("PostgreSQL needs Debian's postgresql package and root here")
    bindir, user = binaries[-1].parent, pwd.getpwnam("postgres")
    home = Path(tempfile.mkdtemp(prefix="sedstudy-scale-pg-"))
    os.chown(home, user.pw_uid, user.pw_gid)
    port = free_port()

    def as_postgres(*command: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command]

    subprocess.run(as_postgres(str(bindir / "initdb"), "-D", str(home / "data"), "-U", "mlflow", "--auth=trust"),
                   check=True, capture_output=True)
    log = root / "postgres.log"
    server = subprocess.Popen(as_postgres(str(bindir / "postgres"), "-D", str(home / "data"), "-p", str(port), "-k",
                                          str(home), "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"),
                              stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_port(port, "PostgreSQL", log)
        time.sleep(1)
        subprocess.run(as_postgres(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "mlflow",
                                   "mlflow"), check=True, capture_output=True)
        yield f"postgresql+psycopg2://mlflow@127.0.0.1:{port}/mlflow"
    finally:
        stop_group(server)
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def mlflow_server(backend: str, root: Path, workers: int):
    port = free_port()
    log = root / "mlflow_server.log"
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend,
                               "--artifacts-destination", str(root / "served"), "--host", "127.0.0.1", "--port",
                               str(port), "--workers", str(workers)],
                              stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
                              env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    try:
        wait_port(port, "the MLflow server", log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_group(server)


@contextmanager
def logical_cluster(concurrency: int):
    """min(NODES, C) nodes holding C logical GPUs and CPUs in all."""
    from ray.cluster_utils import Cluster

    nodes = min(NODES, concurrency)
    shares = [concurrency // nodes + (1 if i < concurrency % nodes else 0) for i in range(nodes)]
    # the nodes take the machine's address (a driver joining 127.0.0.1 is sent to it: Ray canonicalises a
    # loopback bootstrap address to the node's own), as ray.cluster_utils' own tests do
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": shares[0], "num_gpus": shares[0],
                                                            "include_dashboard": False})
    try:
        for share in shares[1:]:
            cluster.add_node(num_cpus=share, num_gpus=share)
        cluster.wait_for_nodes()
        yield cluster.address
    finally:
        cluster.shutdown()


# ---- the arms, each in a driver process of its own ----

def sleeping_trial(config: dict[str, Any]) -> None:
    """Tune's arm: what the simulated fit does, with nothing of ours."""
    from ray import tune

    root = Path(config["root"]) / f"trial_{config['index']}"
    for epoch in range(config["epochs"]):
        time.sleep(config["epoch_s"])
        last = root / "last"
        last.mkdir(parents=True, exist_ok=True)
        (last / "state.json").write_text(json.dumps({"epoch": epoch}))
        # its state stays in its folder, as a sedstudy trial's does (studies.trainable.RayReporter); handed to Tune
        # with CheckpointConfig(num_to_keep=1), each would make Tune save its whole experiment state
        tune.report({"train/loss": 1.0 / (epoch + 1), "train/consistency": 0.0, "train/lr": 1e-3, "val/m": 0.5,
                     "val/loss": 0.5, "epoch": float(epoch), "sim/reported_at": time.time()})


def tune_arm(args: argparse.Namespace) -> dict[str, Any]:
    import ray
    from ray import tune

    storage = Path(args.out) / f"tune_c{args.concurrency}"
    ray.init(address=args.address, log_to_driver=False)
    cpu0, wall0 = time.process_time(), time.monotonic()
    tuner = tune.Tuner(
        tune.with_resources(sleeping_trial, {"cpu": 1, "gpu": 1}),
        param_space={"index": tune.grid_search(list(range(args.trials))), "epochs": args.epochs,
                     "epoch_s": args.epoch_s, "root": str(storage / "outputs")},
        tune_config=tune.TuneConfig(reuse_actors=True),
        run_config=tune.RunConfig(name="scale", storage_path=str(storage), verbose=0))
    results = tuner.fit()
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    ray.shutdown()
    return {"wall_s": wall, "driver_cpu_s": cpu, "loop_cpu_s": cpu,
            "errors": sum(1 for r in results if r.error is not None),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "state_mb": state_size(storage / "scale")}


def state_size(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.glob("experiment_state*")) / 2**20 if folder.is_dir() else 0.0


def study_yaml(args: argparse.Namespace, data: Path) -> Path:
    seeds = list(range(1, min(SEEDS, args.trials) + 1))
    cells = max(1, args.trials // len(seeds))
    levels = [round(1e-3 * (1 + i / 10_000), 8) for i in range(cells)]
    path = Path(args.out) / f"scale_c{args.concurrency}.yaml"
    path.write_text(json.dumps({
        "name": f"scale_c{args.concurrency}_n{cells * len(seeds)}",
        "experiment": {"preset": "tiny", "data": {"root": str(data)},
                       "training": {"epochs": args.epochs, "steps_per_epoch": 1}},
        "design": {"factors": {"training.optimizer.lr": levels}},
        "seeds": seeds, "resources": {"cpu": 1, "gpu": 1 if args.address else 0}}, indent=1))
    return path


class CallCounter:
    """Counts the driver's MlflowClient calls and the time spent in them."""

    METHODS = ("create_run", "log_batch", "set_tag", "delete_tag", "set_terminated", "update_run", "log_artifact",
               "log_artifacts", "log_dict", "log_text", "search_runs", "get_run", "get_metric_history",
               "get_experiment_by_name", "create_experiment")

    def __init__(self) -> None:
        from mlflow.tracking import MlflowClient

        self.calls: dict[str, int] = {}
        self.seconds = 0.0
        self.landed: list[tuple[float, float]] = []  # (reported at, seconds until its log_batch returned)
        for name in self.METHODS:
            setattr(MlflowClient, name, self._counted(name, getattr(MlflowClient, name)))

    def _counted(self, name: str, method: Any) -> Any:
        def counted(client: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(client, *args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls[name] = self.calls.get(name, 0) + 1
                if name == "log_batch":
                    now = time.time()
                    self.landed += [(m.value, now - m.value) for m in kwargs.get("metrics") or ()
                                    if m.key == "sim/reported_at"]
        return counted


def sedstudy_arm(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "bench"))
    import ray.cloudpickle
    import simulated_fit

    from studies import launcher

    ray.cloudpickle.register_pickle_by_value(simulated_fit)  # the workers need not import bench/
    counter = CallCounter()
    started: list[tuple[float, float]] = []  # (wall, driver CPU) when the Tune pass began
    tune_pass = launcher.tune_pass

    def timed_tune_pass(*a: Any, **k: Any) -> Any:
        started.append((time.monotonic(), time.process_time()))
        return tune_pass(*a, **k)

    launcher.tune_pass = timed_tune_pass
    path = study_yaml(args, Path(args.data))
    workdir = Path(args.out) / f"work_c{args.concurrency}"
    cpu0, wall0 = time.process_time(), time.monotonic()
    outcome = launcher.run_study(path, workdir=workdir, tracking_uri=args.tracking_uri, address=args.address,
                                 storage=str(workdir / "storage") if args.address else None,
                                 fit=simulated_fit.SimulatedFit(args.epoch_s))
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    if args.no_latency:
        return {"wall_s": wall, "ran": outcome.ran, "failed": outcome.failed, "study": outcome.study.name}
    return {"wall_s": wall, "setup_s": (started[0][0] - wall0) if started else None, "driver_cpu_s": cpu,
            "loop_cpu_s": (time.process_time() - started[0][1]) if started else None,
            "ran": outcome.ran, "failed": outcome.failed, "study": outcome.study.name, "yaml": str(path),
            "workdir": str(workdir), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "state_mb": state_size(workdir / "storage" / outcome.study.name),
            "mlflow_calls": counter.calls, "mlflow_s": counter.seconds,
            "latency": latency_summary(counter.landed),
            "loop_delay": report_latency(args.tracking_uri, outcome.study.name)}


def report_latency(uri: str, study: str, sample: int = 200) -> dict[str, float]:
    """Seconds from a trial's epoch report (its sim/reported_at) to the time its metrics were stamped, when Tune's
    loop handed the result to the tracker (before the write lanes make it), over up to ``sample`` runs."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(study)
    runs = client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'", max_results=50_000)
    chosen = runs[:: max(1, len(runs) // sample)]
    return latency_summary([(m.value, m.timestamp / 1000 - m.value) for run in chosen
                            for m in client.get_metric_history(run.info.run_id, "sim/reported_at")])


def latency_summary(pairs: list[tuple[float, float]]) -> dict[str, float]:
    """Percentiles of (reported at, delay) pairs, and the mean delay of the first and the last quarter by time."""
    pairs = sorted(pairs)
    if not pairs:
        return {}
    waits = sorted(w for _, w in pairs)
    quarter = max(1, len(pairs) // 4)

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    return {"reports": len(pairs), "p50_s": waits[len(waits) // 2], "p95_s": waits[int(0.95 * (len(waits) - 1))],
            "max_s": waits[-1], "first_quarter_mean_s": mean([w for _, w in pairs[:quarter]]),
            "last_quarter_mean_s": mean([w for _, w in pairs[-quarter:]])}


# ---- the parent: servers, clusters, arms, CLI timings ----

def run_arm(arm: str, args: argparse.Namespace, address: str, tracking_uri: str, concurrency: int, trials: int,
            data: Path, database: str | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--arm", arm, "--address", address, "--tracking-uri", tracking_uri,
               "--concurrency", str(concurrency), "--trials", str(trials), "--epochs", str(args.epochs),
               "--epoch-s", str(args.epoch_s), "--out", str(args.out), "--data", str(data)]
    log = Path(args.out) / f"{arm}_c{concurrency}.log"
    with log.open("w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                              env={**reader_env(database), "PYTHONPATH": str(REPO), "SEDSTUDY_HEARTBEAT_S": "30"})
    lines = [line for line in log.read_text().splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the {arm} arm at concurrency {concurrency} failed; see {log}")
    return json.loads(lines[-1][len("RESULT "):])


def reader_env(database: str | None) -> dict[str, str]:
    """The environment of a process that reads the study's trial runs from ``database`` (the server's backend store,
    as `--database-uri` gives it), or through the server's REST API (None)."""
    env = {k: v for k, v in os.environ.items() if k != "SEDSTUDY_DATABASE_URI"}
    return env if database is None else {**env, "SEDSTUDY_DATABASE_URI": database}


def cli_timings(result: dict[str, Any], tracking_uri: str, address: str, out: Path,
                database: str | None) -> dict[str, float]:
    """resume with 10 trial runs deleted (to its decision line), status and report, on the finished store: reading
    the trial runs from the server's database (`--database-uri`) and, for status and report, through its REST API
    (`*_server_s`)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(result["study"])
    runs = client.search_runs([experiment.experiment_id], "tags.`sedstudy.kind` = 'trial'", max_results=10)
    trials = Path(result["workdir"]) / "storage" / result["study"] / "trials"
    for run in runs:  # the resume trains these 10 with the real trainer (the CLI has no simulated one)
        client.delete_run(run.info.run_id)
        shutil.rmtree(trials / run.data.tags["sedstudy.trial_id"], ignore_errors=True)
    env = {**reader_env(database), "PYTHONPATH": str(REPO)}
    cli = [sys.executable, "-c", "import sys; from studies.cli import main; sys.exit(main())"]
    timings: dict[str, float] = {}
    start = time.monotonic()
    storage = str(Path(result["workdir"]) / "storage")
    resume = subprocess.Popen([*cli, "resume", result["yaml"], "--workdir", result["workdir"], "--tracking-uri",
                               tracking_uri, "--address", address, "--storage", storage, "--no-report"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert resume.stdout is not None
    with (out / "resume.log").open("w") as log:
        for line in resume.stdout:
            log.write(line)
            if "to run" in line and "resume_decision_s" not in timings:
                timings["resume_decision_s"] = time.monotonic() - start
    timings["resume_total_s"] = time.monotonic() - start
    readers = [("", database)] + ([("_server", None)] if database is not None else [])
    for suffix, reads in readers:
        for verb, extra in (("status", []), ("report", ["--out", str(out / f"report{suffix}")])):
            start = time.monotonic()
            done = subprocess.run([*cli, verb, result["study"], "--tracking-uri", tracking_uri, *extra],
                                  capture_output=True, text=True, env={**reader_env(reads), "PYTHONPATH": str(REPO)})
            timings[f"{verb}{suffix}_s"] = time.monotonic() - start
            (out / f"{verb}{suffix}.log").write_text(done.stdout + done.stderr)
            if done.returncode != 0:
                raise RuntimeError(f"sedstudy {verb} failed; see {out / f'{verb}{suffix}.log'}")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=None,
                        help="trials per concurrency (default: max(10, 3 x concurrency))")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--epoch-s", type=float, default=1.0)
    parser.add_argument("--store", choices=("postgres", "sqlite"), default="postgres",
                        help="the MLflow server's backend (postgres falls back to sqlite where it cannot run)")
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--reads", choices=("database", "server"), default="database",
                        help="how the study (its summary, resume, status, report) reads its trial runs: from the "
                             "server's backend store (--database-uri) or through the server's REST API")
    parser.add_argument("--no-cli", action="store_true", help="skip resume/status/report on the largest setting")
    parser.add_argument("--arms", nargs="+", choices=("tune", "sedstudy"), default=["tune", "sedstudy"],
                        help="the drivers to run (default both; the ratios need both, in the same run)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--arm", choices=("tune", "sedstudy"), help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    parser.add_argument("--tracking-uri", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--no-latency", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.arm:  # one arm in this process; without --address the sedstudy arm runs on an in-process Ray
        args.concurrency = args.concurrency[0]
        result = tune_arm(args) if args.arm == "tune" else sedstudy_arm(args)
        print("RESULT " + json.dumps(result), flush=True)
        return

    from sed_core.data.synth import generate_dataset

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    data = OUT.parent / "tiny"
    generate_dataset("tiny", data, seed=0, workers=os.cpu_count() or 1)
    results: list[dict[str, Any]] = []
    with ExitStack() as stack:
        backend = f"sqlite:///{args.out / 'mlflow.db'}"
        store = "sqlite"
        if args.store == "postgres":
            try:
                backend, store = stack.enter_context(postgres(args.out)), "postgres"
            except (RuntimeError, subprocess.CalledProcessError, TimeoutError) as error:
                print(f"PostgreSQL unavailable ({error}); the MLflow server uses SQLite", flush=True)
        uri = stack.enter_context(mlflow_server(backend, args.out, args.server_workers))
        database = backend if args.reads == "database" else None
        for concurrency in args.concurrency:
            trials = args.trials or max(10, 3 * concurrency)
            trials = -(-trials // SEEDS) * SEEDS  # whole cells of SEEDS seeds: both arms run the same trials
            with logical_cluster(concurrency) as address:
                row: dict[str, Any] = {"concurrency": concurrency, "trials": trials, "store": store,
                                       "reads": args.reads}
                for arm in args.arms:
                    row[arm] = run_arm(arm, args, address, uri, concurrency, trials, data, database)
                    print(f"c={concurrency} n={trials} {arm}: {json.dumps(row[arm])[:400]}", flush=True)
                if concurrency == max(args.concurrency) and not args.no_cli:
                    row["cli"] = cli_timings(row["sedstudy"], uri, address, args.out, database)
                    print(f"c={concurrency} cli: {row['cli']}", flush=True)
            results.append(row)
    (args.out / "scale.json").write_text(json.dumps(results, indent=1))
    print_table(results, args)


def print_table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """Per concurrency: both arms and their ratios; an arm that was not run shows as "-"."""
    def number(value: float | None, width: int, digits: int) -> str:
        return f"{'-':>{width}}" if value is None else f"{value:{width}.{digits}f}"

    def ratio(ours: float | None, theirs: float | None) -> float | None:
        return None if ours is None or theirs is None else ours / max(theirs, 1e-9)

    print(f"\n{'C':>3} {'trials':>6} | {'excess wall/trial s':>22} | {'driver CPU/trial s':>22} | "
          f"{'peak RSS MB':>14} | {'state MB':>12} | MLflow calls/s  latency p50/p95/max s (1st->last quarter)")
    print(f"{'':>3} {'':>6} | {'tune':>7} {'ours':>7} {'ratio':>6} | {'tune':>7} {'ours':>7} {'ratio':>6} | "
          f"{'tune':>6} {'ours':>7} | {'tune':>5} {'ours':>6} |")
    for row in results:
        c, n = row["concurrency"], row["trials"]
        ideal = -(-n // c) * args.epochs * args.epoch_s
        t, s = row.get("tune", {}), row.get("sedstudy", {})
        t_ex, s_ex = ((a["wall_s"] - ideal) / n if a else None for a in (t, s))
        t_cpu, s_cpu = (a["driver_cpu_s"] / n if a else None for a in (t, s))
        lat = s.get("latency", {})
        calls = sum(s["mlflow_calls"].values()) / s["wall_s"] if s else None
        print(f"{c:>3} {n:>6} | {number(t_ex, 7, 3)} {number(s_ex, 7, 3)} {number(ratio(s_ex, t_ex), 6, 2)} | "
              f"{number(t_cpu, 7, 3)} {number(s_cpu, 7, 3)} {number(ratio(s_cpu, t_cpu), 6, 2)} | "
              f"{number(t.get('peak_rss_mb'), 6, 0)} {number(s.get('peak_rss_mb'), 7, 0)} | "
              f"{number(t.get('state_mb'), 5, 2)} {number(s.get('state_mb'), 6, 2)} | {number(calls, 6, 1)}  "
              f"{lat.get('p50_s', 0):.2f}/{lat.get('p95_s', 0):.2f}/{lat.get('max_s', 0):.2f} "
              f"({lat.get('first_quarter_mean_s', 0):.2f}->{lat.get('last_quarter_mean_s', 0):.2f})")
        if "cli" in row:
            print(f"    on {n} finished runs: {row['cli']}")


if __name__ == "__main__":
    main()
