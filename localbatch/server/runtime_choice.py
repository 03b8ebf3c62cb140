"""The runtime `localbatch serve` runs instances on, chosen so that recovery can adopt.

The Docker runtime's start-up check removes every localbatch container whose owner process
is gone. A server restarted after kill -9 must spare the containers its store records as
still running instances of unfinished jobs (`DockerRuntime(spare=...)`): recovery
reattaches and adopts them. Everything else behaves as `select_runtime` (`auto` prefers
Docker, falls back to the sandbox).
"""

from __future__ import annotations

from localbatch.config import Config
from localbatch.runtime.base import Runtime, RuntimeUnavailable
from localbatch.runtime.docker import DockerRuntime
from localbatch.runtime.select import select_runtime
from localbatch.states import State
from localbatch.store import Store


def recorded_running_refs(store: Store) -> set[str]:
    """Runtime refs of the instances recorded Running in unfinished jobs."""
    return {
        str(instance.detail["ref"])
        for job in store.unfinished_jobs()
        for instance in store.list_instances(job.id, states=(State.RUNNING,), max_items=None).items
        if instance.detail.get("ref")
    }


def select_serve_runtime(choice: str, config: Config) -> tuple[Runtime, str]:
    """Like `select_runtime`, keeping the containers recovery may adopt."""
    if choice not in ("docker", "auto"):
        return select_runtime(choice, config)
    store = Store.open(config.state_dir)
    try:
        keep = recorded_running_refs(store)
    finally:
        store.close()
    runtime = DockerRuntime(spare=keep, default_image=config.default_docker_image)
    try:
        runtime.check()
    except RuntimeUnavailable as no_docker:
        if choice == "docker":
            raise
        process, notice = select_runtime("process", config)
        return process, f"{notice}; no Docker engine: {no_docker}"
    notice = f"runtime: docker (Docker Engine {runtime.version()})"
    if runtime.orphans_removed:
        notice += f"; removed {len(runtime.orphans_removed)} container(s) left by dead runs"
    if keep:
        notice += f"; kept {len(keep)} recorded as running, to adopt"
    return runtime, notice
