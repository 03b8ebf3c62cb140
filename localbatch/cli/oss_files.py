"""`localbatch oss ls|cat|cp`: look at and fill `oss://` paths from the shell.

Every path goes through the storage layer's resolver, the one jobs use, so the same command
reads the local OSS root, a bucket alias (`file://`, `memory://`, any fsspec URL) or real OSS
through ossfs, whatever the config says; unsafe keys are refused with its `InvalidOssPath`,
and on the local root a symbolic link leading out of a bucket is never followed.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from localbatch.cli.common import EXIT_USAGE, Config, config_options, fail
from localbatch.diskspace import NOT_WRITABLE, WRITE_SIDE, cause_of, explain
from localbatch.storage import reading
from localbatch.storage.errors import StorageError
from localbatch.storage.paths import SCHEME, safe_relative
from localbatch.storage.resolver import Location, OssResolver
from localbatch.storage.transfer import publish_host_file

F = TypeVar("F", bound=Callable[..., Any])
#: `cp`'s name for standard input (as SRC) or standard output (as DST).
STDIO = "-"


def _storage_errors(func: F) -> F:
    """Storage and file-system errors become one clear line and exit status 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except StorageError as exc:
            fail(str(exc))
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            fail(f"{exc.strerror or exc}{where}")

    return wrapper  # type: ignore[return-value]


def _resolve(config: Config, url: str) -> Location:
    return OssResolver(config.oss).resolve(url)


def _as_folder(config: Config, location: Location) -> Location:
    """The same path as a folder (key ending with '/'), for a key that names a directory."""
    if location.oss.is_folder:
        return location
    return _resolve(config, location.url + "/")


def _is_dir(location: Location) -> bool:
    return reading.kind(location) == "folder"


def _is_object(location: Location) -> bool:
    return reading.kind(location) == "object"


def _missing(url: str) -> None:
    fail(f"no such object or folder: {url}", EXIT_USAGE)


def _buckets(config: Config) -> list[str]:
    """Aliased buckets, and those of real OSS or the local root (its hidden directories,
    such as the endpoint's metadata, are not buckets)."""
    names = set(config.oss.bucket_aliases)
    resolver = OssResolver(config.oss)
    if resolver.uses_remote_oss:
        fs = resolver.resolve(f"{SCHEME}any/").fs
        names.update(entry.strip("/").split("/")[-1] for entry in fs.ls("/", detail=False))
    elif config.oss.root.is_dir():
        names.update(p.name for p in config.oss.root.iterdir() if p.is_dir() and p.name[0] != ".")
    return sorted(names)


@click.group("oss", short_help="ls, cat and cp on oss:// paths, wherever they live.")
def oss_group() -> None:
    """Inspect and fill oss:// paths (local root, bucket aliases or real OSS)."""


@oss_group.command("ls", short_help="List what is under an oss:// prefix (no prefix: buckets).")
@click.argument("prefix", metavar="[OSS_PREFIX]", required=False, default=SCHEME)
@click.option("-r", "--recursive", is_flag=True, help="Every object below, not only one level.")
@config_options
@_storage_errors
def ls(prefix: str, recursive: bool, config: Config) -> None:
    """List what is under OSS_PREFIX, one oss:// URL a line.

    Folders end with '/'. OSS_PREFIX is a folder (oss://bucket/ or oss://bucket/dir/) or
    one object; without it (or with oss://), the buckets. Exit status 2 when nothing is
    there.
    """
    if prefix == SCHEME:
        for bucket in _buckets(config):
            click.echo(f"{SCHEME}{bucket}/")
        return
    location = _resolve(config, prefix)
    if _is_object(location):
        click.echo(location.url)
        return
    if not _is_dir(location):
        _missing(location.url)
    folder = _as_folder(config, location)
    names = list(reading.folder_objects(folder)) if recursive else reading.folder_children(folder)
    for name in names:
        click.echo(folder.url + name)


@oss_group.command("cat")
@click.argument("path", metavar="OSS_PATH")
@config_options
@_storage_errors
def cat(path: str, config: Config) -> None:
    """Write the object OSS_PATH to standard output, byte for byte."""
    _write_to_stdout(_resolve(config, path))


def _write_to_stdout(location: Location) -> None:
    """The object's bytes on stdout; a folder or a missing object is a clear exit."""
    if not _is_object(location):
        if _is_dir(location):
            fail(f"{location.url} is a folder: list it with `localbatch oss ls`")
        _missing(location.url)
    out = sys.stdout.buffer
    with reading.open_object(location) as source:
        try:
            shutil.copyfileobj(source, out)
            out.flush()
        except BrokenPipeError:  # `localbatch oss cat … | head`: the reader had enough
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@oss_group.command("cp", short_help="Copy files to oss:// or objects from it (dirs: all files).")
@click.argument("src")
@click.argument("dst")
@config_options
@_storage_errors
def cp(src: str, dst: str, config: Config) -> None:
    """Copy local files to oss://, or objects from oss:// to local files.

    \b
    localbatch oss cp data.csv oss://bucket/in/        -> oss://bucket/in/data.csv
    localbatch oss cp data.csv oss://bucket/in/x.csv   -> that exact key
    localbatch oss cp ./dir oss://bucket/in/           -> every file below ./dir, under in/
    localbatch oss cp oss://bucket/out/r.json .        -> ./r.json
    localbatch oss cp oss://bucket/out/ ./results      -> every object below out/
    localbatch oss cp oss://bucket/out/r.json -        -> standard output
    some-command | localbatch oss cp - oss://bucket/in/x.csv   -> from standard input
    Each object is written whole or not at all. Exit status 2 when SRC does not exist.
    (A local file named - is ./-.)
    """
    src_oss, dst_oss = src.startswith(SCHEME), dst.startswith(SCHEME)
    if src_oss == dst_oss:
        fail("exactly one of SRC and DST must be an oss:// path (the other a local path)")
    if dst == STDIO:
        _write_to_stdout(_resolve(config, src))
        return
    if src == STDIO:
        copied = _upload_stdin(config, dst)
    elif dst_oss:
        copied = _upload(config, Path(src), dst)
    else:
        copied = _download(config, src, Path(dst))
    click.echo(f"copied {copied} object{'s' if copied != 1 else ''}")


def _publish(source: Path, target: Location, shown: str = "") -> None:
    """One upload; a destination that cannot be written is named with the cause."""
    try:
        publish_host_file(source, target)
    except OSError as exc:
        if cause_of(exc) not in WRITE_SIDE:  # e.g. the source cannot be read: said as is
            raise
        fail(f"cannot write {target.url} ({target.path}): {cause_of(exc)}")
    click.echo(f"{shown or source} -> {target.url}", err=True)


def _upload_stdin(config: Config, dst: str) -> int:
    """Standard input, spooled to a temporary file so the object appears whole or not at all
    (input cut short by Ctrl-C or a broken pipe writes nothing)."""
    target = _resolve(config, dst)
    if target.oss.is_folder or _is_dir(target):
        fail(f"{target.url} is a folder: from standard input, give the object's whole key")
    with tempfile.NamedTemporaryFile(prefix="localbatch-stdin-") as spool:
        shutil.copyfileobj(sys.stdin.buffer, spool)
        spool.flush()
        _publish(Path(spool.name), target, shown="-")
    return 1


def _upload(config: Config, source: Path, dst: str) -> int:
    if source.is_file():
        target = _resolve(config, dst)
        if not target.oss.is_folder and _is_dir(target):  # like cp: into an existing folder
            target = _as_folder(config, target)
        if target.oss.is_folder:
            target = target.child(source.name)
        _publish(source, target)
        return 1
    if not source.is_dir():
        fail(f"no such file or directory: {source}", EXIT_USAGE)
    folder = _resolve(config, dst if dst.endswith("/") else dst + "/")
    count = 0
    for file in sorted(p for p in source.rglob("*") if not p.is_dir()):
        relative = safe_relative(file.relative_to(source).as_posix())
        _publish(file, folder.child(relative))
        count += 1
    return count


def _download(config: Config, src: str, destination: Path) -> int:
    location = _resolve(config, src)
    if _is_object(location):
        into_dir = destination.is_dir() or str(destination).endswith("/")
        target = destination / location.oss.parts[-1] if into_dir else destination
        _fetch(location, target)
        return 1
    if not _is_dir(location):
        _missing(location.url)
    folder = _as_folder(config, location)
    count = 0
    for relative in reading.folder_objects(folder):
        _fetch(folder.child(relative), destination.joinpath(*relative.split("/")))
        count += 1
    return count


def _fetch(location: Location, target: Path) -> None:
    """Download one object to `target` through a temporary sibling, so it appears whole."""
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with reading.open_object(location) as source, temp.open("xb") as copy:
            shutil.copyfileobj(source, copy)
        os.replace(temp, target)
    except OSError as exc:
        if cause_of(exc) not in (*WRITE_SIDE, NOT_WRITABLE):
            raise
        fail(f"cannot write {target}: {explain(target.parent, exc)}")
    finally:
        temp.unlink(missing_ok=True)
    click.echo(f"{location.url} -> {target}", err=True)


def register(group: click.Group) -> None:
    group.add_command(oss_group)
