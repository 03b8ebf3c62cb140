"""Choosing the runtime: `--runtime auto` or a name from the registry, with a one-line notice.

`auto` prefers Docker (real images, real limits) when an engine answers, and falls back to
the daemon-less bubblewrap sandbox; the notice says which was chosen and why, so a user is
never surprised by where their program ran.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localbatch.config import Config
from localbatch.runtime.base import RuntimeUnavailable
from localbatch.runtime.registry import AUTO, Created, RuntimeOptions, choices, lookup

if TYPE_CHECKING:
    from localbatch.runtime.docker import KeepJob

CHOICES = choices()


def select_runtime(choice: str, config: Config, *, keep_job: KeepJob | None = None) -> Created:
    """The runtime to use and the line that tells the user; RuntimeUnavailable says what
    to install or start. `keep_job` spares dead runs' containers from orphan clean-up
    (`DockerRuntime(keep_job=...)`)."""
    options = RuntimeOptions(config, keep_job)
    if choice != AUTO:
        return lookup(choice).create(options)
    try:
        return lookup("docker").create(options)
    except RuntimeUnavailable as no_docker:
        from localbatch.runtime.docker import engine_address
        from localbatch.runtime.engine_unreachable import short_reason, unreachable_message

        address, cause = engine_address(), no_docker.__cause__ or no_docker
        try:
            reason = f"no Docker engine answered at {address}: {short_reason(address, cause)}"
            return lookup("process").create(RuntimeOptions(config, keep_job, reason))
        except RuntimeUnavailable as no_sandbox:
            docker_part = unreachable_message(address, cause, other_runtime=False)
            raise RuntimeUnavailable(
                f"nothing can run instances here: {docker_part}; and {no_sandbox}"
            ) from no_sandbox
