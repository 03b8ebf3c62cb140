"""Whole-object writes and tree downloads, the same for the local root and any fsspec target.

An object appears whole or not at all: on a local tree the bytes go to a temporary name on
the same file system and are renamed into place (`os.replace`, atomic); on other file
systems each object is one `put_file` (OSS shows an object only once its put or multipart
upload completes). Concurrent writers of one key: the last rename / put wins.

Both ends are resolved beneath their roots (`localbatch.beneath`): the source below the
directory it was found in (an attempt's output directory: a link leading out is never
read), the target below its bucket's directory (a link an instance planted there is never
written through: InvalidOssPath).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

from localbatch.beneath import Escape, Found, Root
from localbatch.fdcopy import copy_all
from localbatch.storage.errors import INVALID_OSS_PATH, StorageError
from localbatch.storage.paths import safe_relative
from localbatch.storage.resolver import Location
from localbatch.tempfiles import TEMPORARY_PREFIX, temporary_name

__all__ = [
    "TEMPORARY_PREFIX",
    "download_tree",
    "escape_error",
    "files_below",
    "publish_file",
    "publish_host_file",
    "remote_files",
]


def files_below(root: Root, code: str, what: str) -> Iterator[Found]:
    """Everything but directories below a directory an instance filled (`what` names it);
    StorageError `code` for a link leading out of it, or dangling: never read."""
    for found in root.walk():
        if found.stat is None:
            raise StorageError(
                code,
                f"{found.path} is a symbolic link leading outside the {what}, or dangling; "
                "it is not read",
            )
        yield found


def escape_error(location: Location) -> StorageError:
    return StorageError(
        INVALID_OSS_PATH,
        f"{location.url} leads outside its bucket directory {location.bucket_dir} through a "
        "symbolic link; it is not followed",
    )


def publish_host_file(source: Path, target: Location) -> None:
    """`publish_file` for a file of the host's own (a log file, a file a user names)."""
    publish_file(Root(source.parent), source.name, target)


def publish_file(
    source_root: Root, source: str, target: Location, *, move_ok: bool = False
) -> None:
    """Make `target` hold the current bytes of `source` (a path below `source_root`),
    atomically.

    `move_ok`: `source` is no longer needed (the attempt ended and nothing else links to it),
    so on the same file system it is renamed into place: no data is copied.
    """
    if target.local is None or target.bucket_dir is None:
        with source_root.opened(source) as fd:
            target.fs.makedirs(target.fs._parent(target.path), exist_ok=True)
            # The open file by its /proc name: put_file opens exactly what was resolved.
            target.fs.put_file(f"/proc/self/fd/{fd}", target.path)
        return
    bucket = Root(target.bucket_dir)
    try:
        with bucket.parent("/".join(target.oss.parts), create=True) as (dir_fd, name):
            if move_ok and _moved(source_root, source, dir_fd, name):
                return
            with source_root.opened(source) as source_fd:
                _copy_into(source_fd, dir_fd, name, target.tmp_dir)
    except Escape:
        raise escape_error(target) from None


def _moved(source_root: Root, source: str, dir_fd: int, name: str) -> bool:
    """Rename a regular file into place; False when that cannot be done (a link, or
    another file system)."""
    with source_root.parent(source) as (source_dir, source_name):
        entry = os.stat(source_name, dir_fd=source_dir, follow_symlinks=False)
        if not stat.S_ISREG(entry.st_mode):
            return False
        try:
            os.replace(source_name, name, src_dir_fd=source_dir, dst_dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            return False
    return True


def _copy_into(source_fd: int, dir_fd: int, name: str, tmp_dir: Path | None) -> None:
    """Copy to a temporary file on the target's file system, then rename it to `name`."""
    if tmp_dir is not None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        temp = tmp_dir / temporary_name()
        try:
            _copy_to(source_fd, os.open(temp, _CREATE, 0o644))
            os.replace(temp, name, dst_dir_fd=dir_fd)
            return
        except OSError as exc:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            if exc.errno != errno.EXDEV:
                raise
    beside = temporary_name()  # the bucket is another file system: a temporary beside
    try:
        _copy_to(source_fd, os.open(beside, _CREATE, 0o644, dir_fd=dir_fd))
        os.replace(beside, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(beside, dir_fd=dir_fd)
        raise


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


def _copy_to(source_fd: int, target_fd: int) -> None:
    """Copy a whole open file into `target_fd` (from its start), then close the target."""
    try:
        os.lseek(source_fd, 0, os.SEEK_SET)
        copy_all(source_fd, target_fd)
    finally:
        os.close(target_fd)


def remote_files(location: Location) -> Iterator[tuple[str, str]]:
    """(path in the file system, '/'-separated relative path) of each object under a folder."""
    fs = location.fs
    base = location.path.rstrip("/")
    if not fs.exists(base):
        return
    for path in sorted(fs.find(base)):
        stripped = fs._strip_protocol(path)
        relative = stripped[len(fs._strip_protocol(base)) :].lstrip("/")
        if relative and not relative.endswith("/"):
            yield path, safe_relative(relative)


def download_tree(location: Location, destination: Path) -> None:
    """Copy every object under the folder `location` into `destination` (which must not exist).

    Written to a temporary sibling directory first and renamed, so `destination` is either
    complete or absent.
    """
    temp = destination.with_name(destination.name + f".partial-{uuid.uuid4().hex}")
    temp.mkdir(parents=True)
    try:
        if location.oss.is_folder:
            for path, relative in remote_files(location):
                local = temp.joinpath(*relative.split("/"))
                local.parent.mkdir(parents=True, exist_ok=True)
                location.fs.get_file(path, str(local))
        else:
            location.fs.get_file(location.path, str(temp / Path(location.path).name))
        try:
            os.replace(temp, destination)
        except OSError as exc:  # someone else completed the same download first
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            shutil.rmtree(temp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
