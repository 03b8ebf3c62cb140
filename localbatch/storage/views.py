"""Read-only views of OSS folders and objects, as host paths a runtime can bind.

On a local tree the view is the directory itself (zero copy, whatever its size; a missing
folder is created empty so the program sees an empty directory, as on the service),
resolved beneath the bucket's directory and bound by its real path: a link an instance
planted in a writable mount never makes another instance see a host directory. On
any other file system the folder is downloaded once per job into `<job>/inputs/` and that
copy is bound; later instances and retries of the job reuse it.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path

from localbatch.beneath import Escape, Root
from localbatch.storage.errors import StorageError, file_system_errors
from localbatch.storage.needs import Access, Need, NeedKind
from localbatch.storage.resolver import Location
from localbatch.storage.transfer import download_tree


class ViewCache:
    """Host paths for OSS locations, downloading remote ones once (thread-safe)."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def host_path(self, location: Location, error_code: str) -> Path:
        """A host path holding what `location` names (a directory for a folder); failures
        are StorageErrors with `error_code` (InputMappingError, MountError)."""
        if location.local is not None:
            return _local(location, error_code)
        key = hashlib.sha256(
            f"{location.fs.protocol}|{location.path}|{location.oss.is_folder}".encode()
        ).hexdigest()[:32]
        destination = self.cache_dir / key
        with self._key_lock(key):
            if not destination.exists():
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                with file_system_errors(
                    error_code,
                    f"cannot download {location.url}",
                    missing=f"{location.url} does not exist",
                ):
                    download_tree(location, destination)
        if location.oss.is_folder:
            return destination
        return destination / Path(location.path).name

    def need(
        self, kind: NeedKind, location: Location, target: str, access: Access, error_code: str
    ) -> Need:
        """`location` seen at `target`: its host path, and on a local tree the bucket's
        directory it is to be opened beneath when bound (an instance with a writable mount
        of the bucket may change the path meanwhile)."""
        host = self.host_path(location, error_code)
        root = None
        if location.local is not None:
            assert location.bucket_dir is not None
            root = Path(os.path.realpath(location.bucket_dir))
        return Need(kind, host, target, access, root)

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())


def _local(location: Location, error_code: str) -> Path:
    assert location.bucket_dir is not None
    root = Root(location.bucket_dir)
    path = "/".join(location.oss.parts)
    try:
        if location.oss.is_folder:
            try:
                os.close(root.makedirs(path))
            except OSError as exc:
                if isinstance(exc, Escape):
                    raise
                raise StorageError(error_code, f"cannot create {location.url}: {exc}") from exc
            wanted = stat.S_ISDIR
        else:
            wanted = stat.S_ISREG
        try:
            found = wanted(root.stat(path).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            found = False
        if not found:
            what = "a folder" if location.oss.is_folder else "an object"
            raise StorageError(error_code, f"{location.url} does not exist as {what}")
        return root.real_path(path)
    except Escape:
        raise StorageError(
            error_code,
            f"{location.url} leads outside its bucket directory through a symbolic link",
        ) from None
