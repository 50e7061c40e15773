"""Can any node hold one trial? Checked before compute, so an unmeetable request is refused instead of waiting
forever behind Ray's "no node can fit this" warning."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from sed_core.errors import ConfigError
from studies.definition import Study


def unmeetable_reason(cpu: float, gpu: float, nodes: Sequence[Mapping[str, float]]) -> str | None:
    """Why no node in `nodes` (each node's total `CPU` and `GPU`) can hold a trial asking `cpu` and `gpu`; None if one
    can. A trial runs on one node, so the largest node counts, not the cluster's sum."""
    if any(node.get("CPU", 0.0) >= cpu and node.get("GPU", 0.0) >= gpu for node in nodes):
        return None
    largest_cpu = max((node.get("CPU", 0.0) for node in nodes), default=0.0)
    largest_gpu = max((node.get("GPU", 0.0) for node in nodes), default=0.0)
    where = "this machine has" if len(nodes) == 1 else f"the largest of the cluster's {len(nodes)} nodes has"
    return (f"a trial asks for {cpu:g} CPU and {gpu:g} GPU, but {where} {largest_cpu:g} CPU and {largest_gpu:g} "
            f"GPU")


def local_node() -> dict[str, float]:
    """What the in-process Ray this launcher starts will declare: every core, every visible CUDA device."""
    import torch

    return {"CPU": float(os.cpu_count() or 1), "GPU": float(torch.cuda.device_count())}


def cluster_nodes() -> list[dict[str, float]]:
    """The alive nodes of the Ray cluster this process is connected to, with their total resources."""
    import ray

    return [dict(node["Resources"]) for node in ray.nodes() if node.get("Alive")]


def check_resources(study: Study, nodes: Sequence[Mapping[str, float]]) -> None:
    resources = study.spec.resources
    reason = unmeetable_reason(resources.cpu, resources.gpu, nodes)
    if reason is not None:
        raise ConfigError(f"{study.source}: resources: {reason}; no trial could ever start. Lower resources.cpu / "
                          f"resources.gpu, or run on a machine or cluster (--address) that has them")
