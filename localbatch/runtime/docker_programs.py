"""Which programs an image holds, asked before anything runs (the checks before a run).

The Engine API cannot list an image's files, but it can stat a path in a container: one
container of the image is created (never started, no network), each path is asked with a
HEAD of its archive endpoint (what `docker cp` uses), and the container is removed at
once, also when the asking is interrupted. It carries the runtime's owner labels, so a
leftover of a killed process is removed as an orphan by the next run.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import docker
import docker.errors
import requests.exceptions

log = logging.getLogger(__name__)

_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)
#: Go's os.FileMode bits in the engine's stat answer.
_MODE_DIR = 1 << 31
_MODE_SYMLINK = 1 << 27
_LINKS_FOLLOWED = 8


def executables_in_image(
    client: docker.DockerClient, image: str, paths: Sequence[str], labels: Mapping[str, str]
) -> frozenset[str] | None:
    """The paths among `paths` that are executable files in `image` (links followed); None
    when the engine cannot tell (image missing, engine error) or when the image has an
    ENTRYPOINT (the command line is then its arguments, not the program)."""
    api = client.api
    try:
        if (api.inspect_image(image).get("Config") or {}).get("Entrypoint"):
            return None
    except _ERRORS as exc:
        log.debug("cannot look into %s: %s", image, exc)
        return None
    try:
        container = str(
            api.create_container(
                image,
                command=["true"],
                labels=dict(labels),
                network_disabled=True,
                host_config=api.create_host_config(network_mode="none"),
            )["Id"]
        )
    except _ERRORS as exc:
        log.debug("cannot look into %s: %s", image, exc)
        return None
    try:
        found = set()
        for path in paths:
            executable = _executable(api, container, path)
            if executable is None:
                return None
            if executable:
                found.add(path)
        return frozenset(found)
    finally:
        try:
            api.remove_container(container, force=True)
        except _ERRORS as exc:
            log.warning("could not remove container %s (the next run will): %s", container, exc)


def _executable(api: Any, container: str, path: str) -> bool | None:
    """Whether `path` is an executable file in the container; None when not known."""
    for _ in range(_LINKS_FOLLOWED):
        stat = _stat(api, container, path)
        if stat is None:
            return False
        if stat == {}:
            return None
        mode = int(stat.get("mode", 0))
        target = str(stat.get("linkTarget") or "")
        if mode & _MODE_SYMLINK and target and target != path:
            path = target
            continue
        return not mode & _MODE_DIR and bool(mode & 0o111)
    return None


def _stat(api: Any, container: str, path: str) -> dict[str, Any] | None:
    """The engine's stat of a path: None when it does not exist, {} when unknown."""
    url = f"{api.base_url}/v{api.api_version}/containers/{container}/archive"
    try:
        response = api.head(url, params={"path": path})
    except _ERRORS:
        return {}
    if response.status_code == 404:
        return None
    header = response.headers.get("X-Docker-Container-Path-Stat")
    if response.status_code != 200 or not header:
        return {}
    try:
        stat = json.loads(base64.b64decode(header))
    except ValueError:
        return {}
    return stat if isinstance(stat, dict) else {}
