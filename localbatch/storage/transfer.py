"""Whole-object writes and tree downloads, the same for the local root and any fsspec target.

An object appears whole or not at all: on a local tree the bytes go to a temporary name on
the same file system and are renamed into place (`os.replace`, atomic); on other file
systems each object is one `put_file` (OSS shows an object only once its put or multipart
upload completes). Concurrent writers of one key: the last rename / put wins.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from localbatch.storage.paths import safe_relative
from localbatch.storage.resolver import Location

#: Same prefix as the OSS endpoint's temporary files, which its listings hide.
TEMPORARY_PREFIX = ".localbatch-upload-"


def _temp_name(directory: Path) -> Path:
    return directory / f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}"


def publish_file(
    source: Path, target: Location, *, move_ok: bool = False, known_dirs: set[Path] | None = None
) -> None:
    """Make `target` hold the current bytes of `source`, atomically.

    `move_ok`: `source` is no longer needed (the attempt ended and nothing else links to it),
    so on the same file system it is renamed into place: no data is copied.
    `known_dirs`: directories already known to exist (skips a system call per file).
    """
    if target.local is None:
        target.fs.makedirs(target.fs._parent(target.path), exist_ok=True)
        target.fs.put_file(str(source), target.path)
        return
    destination = target.local
    known = known_dirs if known_dirs is not None else set()
    _ensure_dir(destination.parent, known)
    if move_ok:
        try:
            os.replace(source, destination)
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
    for directory in (target.tmp_dir, destination.parent):
        if directory is None:
            continue
        _ensure_dir(directory, known)
        temp = _temp_name(directory)
        try:
            shutil.copyfile(source, temp)
            os.replace(temp, destination)
            return
        except OSError as exc:
            _unlink_quietly(temp)
            if exc.errno != errno.EXDEV:
                raise
    raise OSError(errno.EXDEV, f"no temporary directory on the file system of {destination}")


def _ensure_dir(directory: Path, known: set[Path]) -> None:
    if directory not in known:
        directory.mkdir(parents=True, exist_ok=True)
        known.add(directory)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


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
