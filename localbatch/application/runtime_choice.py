"""The runtime a surface (`run`, `serve`, `start`) runs instances on, chosen so that
recovery can adopt, and what the surface may ask of it.

The Docker runtime's start-up check removes localbatch containers whose owner process is
gone. A container whose job the store of its state directory still records Waiting or
Running is kept: the next `localbatch serve` (or `localbatch start JOB`) on that state
directory reattaches and adopts it, or records it `Lost`. Everything else behaves as
`select_runtime` (`auto` prefers Docker, falls back to the sandbox).
"""

from __future__ import annotations

from localbatch.config import Config
from localbatch.runtime.base import PullsImages, Runtime, uses_images
from localbatch.runtime.registry import entries
from localbatch.store.unfinished import UnfinishedJobs


def select_sparing_runtime(choice: str, config: Config) -> tuple[Runtime, str]:
    """Like `select_runtime`, keeping the containers of jobs left unfinished by dead runs."""
    from localbatch.runtime.select import select_runtime  # at each call: tests replace it

    return select_runtime(choice, config, keep_job=UnfinishedJobs(config.state_dir))


def allow_pulls(runtime: Runtime) -> None:
    """`--pull`: the runtime pulls the images it lacks; ValueError for one that uses none."""
    if not isinstance(runtime, PullsImages) or not uses_images(runtime):
        pulling = " or ".join(e.name for e in entries() if e.capabilities.pulls_images)
        raise ValueError(f"--pull applies to the {pulling} runtime only, not to {runtime.name}")
    runtime.pull = True
