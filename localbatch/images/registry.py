"""The real distribution registry (Debian's `docker-registry`), for as long as one pull or
push needs it.

It serves a local directory with the filesystem storage driver, whose tree is the one the
OSS driver writes under an OSS path. It listens on 127.0.0.1 only (the Docker engine
accepts plain HTTP from 127.0.0.0/8, its default insecure range), never on another
address, with no debug server, and is stopped when the block ends. The port is the
directory's own while it is free (so the engine, which remembers what it pushed where,
does not send a base layer again on the next push), else any free one: never 5000, which
the user's own registry may hold. Its configuration is written as JSON, which its YAML
reader accepts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from localbatch.runtime.image_supply import ImageProblem

REGISTRY_BINARY = "docker-registry"
INSTALL_HINT = (
    "the OSS-backed registry needs the distribution registry: install it with "
    "`apt-get install docker-registry` (Debian/Ubuntu)"
)
START_SECONDS = 15.0
#: Address-in-use races (another process took the port between probe and listen).
START_TRIES = 3
STOP_GRACE = 5.0
#: Where a directory's own port is chosen (below Linux's usual ephemeral range).
PORT_BASE = 20000
PORT_SPAN = 12000


def registry_binary() -> str:
    """The registry's path; ImageProblem saying what to install when it is missing."""
    found = shutil.which(REGISTRY_BINARY)
    if found is None:
        raise ImageProblem(INSTALL_HINT)
    return found


def registry_config(root: Path, port: int, *, read_only: bool) -> dict[str, Any]:
    """The registry's configuration: `root` as filesystem storage, 127.0.0.1:`port`."""
    return {
        "version": "0.1",
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(root)},
            "delete": {"enabled": False},
            # Never purge others' uploads from a shared tree; never write when only pulled.
            "maintenance": {
                "uploadpurging": {"enabled": False},
                "readonly": {"enabled": read_only},
            },
        },
        "http": {"addr": f"127.0.0.1:{port}"},
    }


def _port_for(root: Path, attempt: int) -> int:
    """The same port for the same directory while it is free (the engine recognises blobs
    it pushed to that registry before and sends them again only when they are missing
    there); any free port when it is not."""
    preferred = PORT_BASE + int(hashlib.sha256(str(root).encode()).hexdigest(), 16) % PORT_SPAN
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the registry (Go) listens: the last run's connections in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", preferred if attempt == 0 else 0))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


#: Never through a proxy the environment names: the registry is on this host's loopback.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _answers(address: str) -> bool:
    try:
        with _DIRECT.open(f"http://{address}/v2/", timeout=1) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def loopback_registry(root: Path, *, read_only: bool) -> Iterator[str]:
    """A registry serving `root` while the block runs (read-only unless it takes a push);
    yields its `127.0.0.1:PORT`."""
    binary = registry_binary()
    with tempfile.TemporaryDirectory(prefix="localbatch-registry-") as scratch:
        failure = ""
        for attempt in range(START_TRIES):
            port = _port_for(root, attempt)
            config = Path(scratch) / "config.yml"
            config.write_text(json.dumps(registry_config(root, port, read_only=read_only)))
            log_path = Path(scratch) / "registry.log"
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [binary, "serve", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                    env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                )
            address = f"127.0.0.1:{port}"
            try:
                if _wait_ready(process, address):
                    yield address
                    return
                failure = log_path.read_text(errors="replace").strip()[-2000:]
                if "address already in use" not in failure:
                    break
            finally:
                _stop(process)
        raise ImageProblem(f"the registry ({binary}) did not start: {failure or 'no output'}")


def _wait_ready(process: subprocess.Popen[bytes], address: str) -> bool:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if _answers(address):
            return True
        time.sleep(0.02)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
