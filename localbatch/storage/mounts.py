"""`Mounts.Entries` (task level and `AutoCluster.Configs`) as needs of kind mount.

- `oss://bucket/dir/`: bound from the bucket's local directory (read-only unless
  `WriteSupport`). A bucket on another file system (alias or real OSS) is downloaded once
  per job and bound read-only; `WriteSupport` there cannot be honoured and is refused.
- `nas://<host>:/path/`: bound from a local directory per NAS file system: the config's
  `[nas]` entry for the host or for its file system id (the host's first label), else
  `<state_dir>/nas/<id>`; writable only with `WriteSupport`.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from pathlib import Path

from localbatch.beneath import Escape, Root
from localbatch.config import Config
from localbatch.spec.model import MountEntry
from localbatch.storage.errors import INVALID_OSS_PATH, MOUNT_ERROR, StorageError
from localbatch.storage.needs import Need, NeedKind, access
from localbatch.storage.resolver import OssResolver
from localbatch.storage.views import ViewCache

NAS_SCHEME = "nas://"


def mount_needs(
    entries: Iterable[MountEntry], resolver: OssResolver, views: ViewCache, config: Config
) -> list[Need]:
    """Needs for a Mounts block: oss:// through the view cache, nas:// as a local directory;
    any other scheme is refused rather than silently left unmounted."""
    needs = []
    for entry in entries:
        target = container_path(entry.destination, MOUNT_ERROR, "Mounts Destination")
        if entry.source.startswith("oss://"):
            needs.append(_oss_need(entry, target, resolver, views))
        elif entry.source.startswith(NAS_SCHEME):
            directory = nas_directory(entry.source, config)
            root = Path(os.path.realpath(nas_base(entry.source, config)))
            writable = access(not entry.write_support)
            needs.append(Need(NeedKind.MOUNT, directory, target, writable, root))
        else:
            raise StorageError(
                MOUNT_ERROR,
                f"mount source {entry.source!r} is not supported: use oss://... or nas://...",
            )
    return needs


def _oss_need(entry: MountEntry, target: str, resolver: OssResolver, views: ViewCache) -> Need:
    location = resolver.resolve(entry.source)
    if location.local is None and entry.write_support:
        raise StorageError(
            MOUNT_ERROR,
            f"WriteSupport cannot be honoured for {entry.source}: its bucket is not a local "
            f"directory (only the OSS root and file:// aliases can be mounted writable)",
        )
    return views.need(
        NeedKind.MOUNT, location, target, access(not entry.write_support), MOUNT_ERROR
    )


def nas_directory(source: str, config: Config) -> Path:
    """The local directory standing for a `nas://` source (created if missing)."""
    base = nas_base(source, config)
    path = source[len(NAS_SCHEME) :].partition("/")[2]
    parts = [part for part in path.split("/") if part]
    if any(part in (".", "..") for part in parts):
        raise StorageError(INVALID_OSS_PATH, f"{source!r} has a '.' or '..' segment")
    relative = "/".join(parts)
    try:
        base.mkdir(parents=True, exist_ok=True)
        os.close(Root(base).makedirs(relative))
        return Root(base).real_path(relative)
    except Escape:
        raise StorageError(INVALID_OSS_PATH, f"{source!r} resolves outside {base}") from None
    except OSError as exc:
        where = base.joinpath(*parts)
        raise StorageError(MOUNT_ERROR, f"cannot create {where} for {source}: {exc}") from exc


def nas_base(source: str, config: Config) -> Path:
    """The local directory of the NAS file system a `nas://` source names (trusted: the
    config's `[nas]` entry, else `<state_dir>/nas/<id>`)."""
    host = source[len(NAS_SCHEME) :].partition("/")[0].rstrip(":")
    file_system_id = host.split(".", 1)[0]
    if not file_system_id or "\x00" in source:
        raise StorageError(MOUNT_ERROR, f"{source!r} does not name a NAS file system")
    return config.nas.get(host) or config.nas_dir(file_system_id)


def container_path(path: str, code: str, what: str) -> str:
    """A normalised absolute path inside the container (no trailing '/')."""
    if not path.startswith("/") or "\x00" in path:
        raise StorageError(code, f"{what} {path!r} must be an absolute local path")
    return posixpath.normpath(path)
