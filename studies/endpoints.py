"""Checks of the places a study writes to, before any compute: tracking store, Ray cluster, shared storage."""
from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from sed_core.errors import ConfigError

CHECK_TIMEOUT_S = "10"


@contextmanager
def _quick_http():
    """MLflow's REST client retries for minutes by default; a pre-flight check should answer in seconds."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES")}
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = CHECK_TIMEOUT_S
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def check_tracking_uri(tracking_uri: str, *, cluster: bool) -> None:
    """Refuse a store the study cannot use: a ``file:`` store on a cluster, a server that does not answer."""
    scheme = urlparse(tracking_uri).scheme
    if cluster and scheme in ("", "file"):
        raise ConfigError(
            f"--tracking-uri {tracking_uri}: a file store cannot serve a multi-node study (nodes and users need one "
            f"server); start one, e.g. `mlflow server --backend-store-uri postgresql://user@db/mlflow "
            f"--artifacts-destination /shared/mlartifacts --host 127.0.0.1`, and pass --tracking-uri http://HOST:5000"
        )
    if scheme in ("http", "https"):
        from mlflow.tracking import MlflowClient

        with _quick_http():
            try:
                MlflowClient(tracking_uri).search_experiments(max_results=1)
            except Exception as err:  # connection refused, DNS, TLS and HTTP errors all mean "not usable"
                raise ConfigError(f"--tracking-uri {tracking_uri}: the MLflow server does not answer "
                                  f"({type(err).__name__}: {str(err).splitlines()[0][:200]}); start it or fix the "
                                  f"URI") from None


def check_storage(storage: str | None, *, cluster: bool) -> None:
    """On a cluster, checkpoints and trial outputs must live where every node and the driver see them."""
    if cluster and not storage:
        raise ConfigError("--storage is required with --address: give a path every node and the driver share "
                          "(NFS, e.g. /shared/sedstudy) for trial checkpoints and outputs")
    if storage and "://" in storage:
        raise ConfigError(f"--storage {storage}: trial outputs are written as files; give a shared filesystem path "
                          f"(NFS, a cluster's shared disk), not an object-store URI")
    if storage:
        path = Path(storage)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"--storage {storage}: cannot create it ({err.strerror})") from None
        if not os.access(path, os.W_OK):
            raise ConfigError(f"--storage {storage}: not writable by this user")


def connect_ray(address: str) -> None:
    """Join the cluster at ``address``, or say clearly that none answers there."""
    import ray

    try:
        _reachable(address)
        ray.init(address=address, log_to_driver=False)
    except (OSError, RuntimeError, ValueError) as err:
        raise ConfigError(
            f"--address {address}: no Ray cluster answers there ({type(err).__name__}: {str(err).splitlines()[0][:200]}"
            f"); start one with `RAY_AUTH_MODE=token ray start --head --node-ip-address 127.0.0.1` (see "
            f"docs/CLUSTER.md) and pass the address it prints"
        ) from None


def _reachable(address: str) -> None:
    """A TCP connect to the head's GCS port; ray.init itself keeps retrying for minutes when nobody answers."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected HOST:PORT (the address `ray start --head` prints), got {address!r}")
    with socket.create_connection((host, int(port)), timeout=5):
        pass
