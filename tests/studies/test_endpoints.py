"""Tracking URIs, Ray addresses and storage paths that cannot work are refused before any compute."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sed_core.errors import ConfigError
from studies.endpoints import check_storage, check_tracking_uri, connect_ray


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_file_store_on_a_cluster_is_refused_with_the_fix(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"a file store cannot serve a multi-node study.*mlflow server"):
        check_tracking_uri(f"file://{tmp_path}/mlruns", cluster=True)
    check_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db", cluster=False)


def test_a_server_that_does_not_answer_is_named():
    uri = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ConfigError, match=rf"--tracking-uri {uri}: the MLflow server does not answer"):
        check_tracking_uri(uri, cluster=True)


def test_cluster_needs_shared_storage_and_paths_not_uris(tmp_path: Path):
    with pytest.raises(ConfigError, match="--storage is required with --address"):
        check_storage(None, cluster=True)
    with pytest.raises(ConfigError, match="give a shared filesystem path"):
        check_storage("s3://bucket/x", cluster=True)
    check_storage(str(tmp_path / "shared"), cluster=True)
    assert (tmp_path / "shared").is_dir()


@pytest.mark.slow
def test_a_ray_address_that_does_not_answer_is_named():
    import ray

    address = f"127.0.0.1:{free_port()}"
    running = ray.is_initialized()  # the session's in-process Ray (conftest.shared_ray): not this test's to stop
    try:
        with pytest.raises(ConfigError, match=rf"--address {address}: no Ray cluster answers there"):
            connect_ray(address)
    finally:
        if ray.is_initialized() and not running:
            ray.shutdown()
