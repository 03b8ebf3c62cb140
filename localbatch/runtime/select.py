"""Choosing the runtime: `--runtime auto|docker|process`, with a one-line notice.

`auto` prefers Docker (real images, real limits) when an engine answers, and falls back to
the daemon-less bubblewrap sandbox; the notice says which was chosen and why, so a user is
never surprised by where their program ran.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localbatch.config import Config
from localbatch.runtime.base import Runtime, RuntimeUnavailable

if TYPE_CHECKING:
    from localbatch.runtime.docker import KeepJob

CHOICES = ("auto", "docker", "process")


def _docker(config: Config, keep_job: KeepJob | None) -> tuple[Runtime, str]:
    from localbatch.images.sources import ImageSources
    from localbatch.runtime.docker import DockerRuntime

    runtime = DockerRuntime(
        default_image=config.default_docker_image,
        keep_job=keep_job,
        state_dir=config.state_dir,
        images=ImageSources(config, engine_factory=None),
    )
    runtime.check()
    notice = f"runtime: docker (Docker Engine {runtime.version()})"
    if runtime.orphans_removed:
        notice += f"; removed {len(runtime.orphans_removed)} container(s) left by dead runs"
    if runtime.orphans_kept:
        notice += (
            f"; kept {len(runtime.orphans_kept)} container(s) of dead runs whose jobs are "
            "unfinished (`localbatch serve` adopts them)"
        )
    return runtime, notice


def _process(config: Config, why: str = "") -> tuple[Runtime, str]:
    """The sandbox runtime; it runs programs in their image unless the config asks for the
    host's files (`[process] files = "host"`)."""
    from localbatch.images.sources import ImageSources
    from localbatch.runtime.process import ProcessRuntime

    images = ImageSources(config) if config.process_files == "image" else None
    runtime = ProcessRuntime(images=images)
    runtime.check()
    return runtime, f"runtime: process ({runtime.describe()}{why})"


def select_runtime(
    choice: str, config: Config, *, keep_job: KeepJob | None = None
) -> tuple[Runtime, str]:
    """The runtime to use and the line that tells the user; RuntimeUnavailable says what
    to install or start. `keep_job` spares dead runs' containers from orphan clean-up
    (`DockerRuntime(keep_job=...)`)."""
    if choice == "docker":
        return _docker(config, keep_job)
    if choice == "process":
        return _process(config)
    if choice != "auto":
        raise RuntimeUnavailable(f"unknown runtime {choice!r}: choose one of {', '.join(CHOICES)}")
    try:
        return _docker(config, keep_job)
    except RuntimeUnavailable as no_docker:
        from localbatch.runtime.docker import engine_address
        from localbatch.runtime.engine_unreachable import short_reason, unreachable_message

        address, cause = engine_address(), no_docker.__cause__ or no_docker
        try:
            reason = short_reason(address, cause)
            return _process(config, f"; no Docker engine answered at {address}: {reason}")
        except RuntimeUnavailable as no_sandbox:
            docker_part = unreachable_message(address, cause, other_runtime=False)
            raise RuntimeUnavailable(
                f"nothing can run instances here: {docker_part}; and {no_sandbox}"
            ) from no_sandbox
