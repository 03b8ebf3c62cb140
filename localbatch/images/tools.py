"""skopeo and umoci, the two tools that turn an image into a root file system without a
Docker engine: skopeo copies an image between a registry, a `docker save` archive, an OCI
layout and the engine; umoci unpacks an OCI layout's layers into a directory, applying
whiteouts as the image format says."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from localbatch.runtime.image_supply import ImageProblem

INSTALL = {
    "skopeo": "`apt-get install skopeo`",
    "umoci": "`apt-get install umoci`",
}
#: A copy or an unpack of a big image on a busy machine; a tool taking longer is stuck.
TOOL_TIMEOUT = 1800.0


def tool(name: str, why: str) -> str:
    """The tool's path; ImageProblem saying what needs it and how to install it."""
    found = shutil.which(name)
    if found is None:
        raise ImageProblem(f"{why} needs {name}, which is not installed: {INSTALL[name]}")
    return found


def run_tool(argv: Sequence[str], what: str) -> str:
    """Run one tool to its end; its stdout, or ImageProblem with `what` and its own words."""
    try:
        done = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ImageProblem(f"{what}: {exc}") from exc
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise ImageProblem(f"{what}: {_last_words(lines)}")
    return done.stdout


def _last_words(lines: list[str]) -> str:
    """The tool's message: its last lines, without logrus's time= and level= prefixes."""
    kept = []
    for line in lines[-5:]:
        if 'msg="' in line:
            line = line.split('msg="', 1)[1].rsplit('"', 1)[0].replace('\\"', '"')
        kept.append(line.strip())
    return " / ".join(k for k in kept if k) or "failed without a message"


def skopeo_copy(source: str, destination: str, what: str) -> None:
    """`skopeo copy` between two transports; plain HTTP only to this host's loopback."""
    skopeo = tool("skopeo", what)
    argv = [skopeo, "--insecure-policy", "copy", "--quiet"]
    if source.startswith("docker://127.0.0.1:"):
        argv.append("--src-tls-verify=false")
    if destination.startswith("docker://127.0.0.1:"):
        argv.append("--dest-tls-verify=false")
    daemon_host = os.environ.get("DOCKER_HOST", "")
    if daemon_host and source.startswith("docker-daemon:"):
        argv.append(f"--src-daemon-host={daemon_host}")
    if daemon_host and destination.startswith("docker-daemon:"):
        argv.append(f"--dest-daemon-host={daemon_host}")
    run_tool([*argv, source, destination], what)


def umoci_unpack(layout: Path, ref: str, rootfs: Path, what: str) -> None:
    """Unpack the layers of `layout:ref` into the new directory `rootfs` (no runtime config,
    no mtree: only the files). As another user than root, ownership is mapped to it."""
    umoci = tool("umoci", what)
    argv = [umoci, "raw", "unpack", "--image", f"{layout}:{ref}", str(rootfs)]
    if os.geteuid() != 0:
        argv.insert(3, "--rootless")
    run_tool(argv, what)
