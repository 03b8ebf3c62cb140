"""Looking at objects wherever they live: what a path is, what a folder holds, the bytes.

One answer for the local root and for any fsspec file system (a bucket alias, real OSS),
for `localbatch oss ls|cat|cp`. On a local tree everything is resolved beneath the
bucket's directory (`localbatch.beneath`): a symbolic link that stays inside is followed,
one leading out is not listed and not read (InvalidOssPath), so a link an instance planted
in a writable mount shows nothing of the host.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO, Literal

from localbatch.beneath import Escape, Root
from localbatch.storage.resolver import Location
from localbatch.storage.transfer import TEMPORARY_PREFIX, escape_error, remote_files

log = logging.getLogger(__name__)

Kind = Literal["object", "folder"]


def _local(location: Location) -> tuple[Root, str] | None:
    if location.local is None or location.bucket_dir is None:
        return None
    return Root(location.bucket_dir), "/".join(location.oss.parts)


def _hidden(relative: str) -> bool:
    """Half-written uploads are not objects yet (the OSS endpoint hides them too)."""
    return relative.rsplit("/", 1)[-1].startswith(TEMPORARY_PREFIX)


def kind(location: Location) -> Kind | None:
    """Whether `location` names an object, a folder (a directory), or nothing."""
    local = _local(location)
    if local is None:
        if not location.oss.is_folder and location.fs.isfile(location.path):
            return "object"
        return "folder" if location.fs.isdir(location.path) else None
    root, path = local
    try:
        st = root.stat(path)
    except Escape:
        raise escape_error(location) from None
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISDIR(st.st_mode):
        return "folder"
    return "object" if stat.S_ISREG(st.st_mode) and not location.oss.is_folder else None


def open_object(location: Location) -> BinaryIO:
    """The object's bytes, for reading."""
    local = _local(location)
    if local is None:
        handle: BinaryIO = location.fs.open(location.path, "rb")
        return handle
    root, path = local
    try:
        return os.fdopen(root.open(path), "rb")
    except Escape:
        raise escape_error(location) from None


def folder_objects(folder: Location) -> Iterator[str]:
    """The relative key of every object below a folder, in key order."""
    local = _local(folder)
    if local is None:
        for _, relative in remote_files(folder):
            if not _hidden(relative):
                yield relative
        return
    root, path = local
    prefix = f"{path}/" if path else ""
    try:
        for found in root.walk(path):
            relative = found.path[len(prefix) :]
            if found.stat is None:
                log.warning("%s%s leads outside its bucket: not listed", folder.url, relative)
            elif stat.S_ISREG(found.stat.st_mode) and not _hidden(relative):
                yield relative
    except Escape:
        raise escape_error(folder) from None


def folder_children(folder: Location) -> list[str]:
    """The direct children's relative names under a folder; sub-folders end with '/'."""
    local = _local(folder)
    if local is None:
        return _fs_children(folder)
    root, path = local
    names = []
    try:
        entries = root.entries(path)
    except Escape:
        raise escape_error(folder) from None
    for name, st in entries:
        if _hidden(name):
            continue
        if stat.S_ISLNK(st.st_mode):
            try:
                st = root.stat(f"{path}/{name}" if path else name)
            except OSError:  # leads out, or dangling: nothing of this bucket
                continue
        if stat.S_ISDIR(st.st_mode):
            names.append(name + "/")
        elif stat.S_ISREG(st.st_mode):
            names.append(name)
    return sorted(names)


def _fs_children(folder: Location) -> list[str]:
    fs = folder.fs
    base = fs._strip_protocol(folder.path.rstrip("/")).rstrip("/")
    names = []
    for entry in fs.ls(folder.path.rstrip("/") or "/", detail=True):
        name = fs._strip_protocol(entry["name"]).rstrip("/")
        relative = name[len(base) :].lstrip("/")
        if not relative or _hidden(relative):
            continue
        names.append(relative + "/" if entry["type"] == "directory" else relative)
    return sorted(names)
