"""Looking at what a job names in OSS without preparing anything: does it exist, and what
does a package hold. For the checks before a run (`application/preflight.py`).

Nothing here creates, downloads or unpacks: a local tree is looked at beneath its bucket's
directory (`localbatch.beneath`), any other file system (an alias, real OSS) is asked
through fsspec. A package is listed (names and modes, no content written) only when it is
a local file of reasonable size; otherwise what it holds is not known (None).
"""

from __future__ import annotations

import stat
import tarfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from localbatch.beneath import Escape, Root
from localbatch.storage.errors import reason
from localbatch.storage.resolver import Location

#: Packages larger than this are not listed before a run: reading one means inflating it
#: whole, which the first attempt does anyway.
LISTING_LIMIT = 256 << 20


def missing(location: Location, *, folder: bool) -> str | None:
    """Why `location` cannot be used as an object (or, with `folder`, a folder with
    something in it or a directory); None when it can. OSError from a remote file system
    becomes the reason (it could not be checked)."""
    if location.local is not None:
        return _missing_locally(location, folder)
    try:
        found = location.fs.isdir(location.path) if folder else location.fs.isfile(location.path)
        if folder and not found:
            found = bool(location.fs.exists(location.path))
    except Exception as exc:  # a file system's own error, whatever its kind: said
        return f"{location.url} cannot be checked: {reason(exc)}"
    return None if found else f"{location.url} does not exist"


def _missing_locally(location: Location, folder: bool) -> str | None:
    assert location.bucket_dir is not None and location.local is not None
    path = "/".join(location.oss.parts)
    try:
        mode = Root(location.bucket_dir).stat(path).st_mode
    except Escape:
        return f"{location.url} leads outside its bucket directory through a symbolic link"
    except (FileNotFoundError, NotADirectoryError):
        return f"{location.url} does not exist (looked for {location.local.absolute()})"
    except OSError as exc:
        return f"{location.url} cannot be checked: {reason(exc)}"
    wanted, what = (stat.S_ISDIR, "a folder") if folder else (stat.S_ISREG, "a file")
    return None if wanted(mode) else f"{location.url} is not {what} ({location.local.absolute()})"


@dataclass(frozen=True)
class PackageListing:
    """What an unpacked package holds: its files (with whether they are executable), its
    directories and its symbolic links, by path relative to the work directory."""

    executables: frozenset[str]
    files: frozenset[str]
    directories: frozenset[str]
    links: frozenset[str]

    def has_program(self, relative: str) -> bool | None:
        """Whether `relative` names an executable file of the package; None when it cannot
        be told (a link, or a path through a link)."""
        parts = PurePosixPath(relative).parts
        for depth in range(1, len(parts) + 1):
            if "/".join(parts[:depth]) in self.links:
                return None
        return relative in self.executables


def list_package(location: Location) -> PackageListing | None:
    """The members of a local .tar.gz package; None when it is not local, too large to
    read before the run, or not a readable archive (the attempt says why: PackageError)."""
    if location.local is None or location.bucket_dir is None:
        return None
    path = "/".join(location.oss.parts)
    root = Root(location.bucket_dir)
    try:
        if root.stat(path).st_size > LISTING_LIMIT:
            return None
        with root.opened(path) as fd, open(fd, "rb", closefd=False) as raw:
            return _listing(tarfile.open(fileobj=raw, mode="r|*"))
    except (OSError, tarfile.TarError, EOFError):
        return None


def _listing(archive: tarfile.TarFile) -> PackageListing:
    executables, files, directories, links = set(), set(), set(), set()
    with archive:
        for member in archive:
            name = str(PurePosixPath(member.name.lstrip("/")))
            if name in ("", "."):
                continue
            name = name.removeprefix("./")
            if member.isdir():
                directories.add(name)
            elif member.issym() or member.islnk():
                links.add(name)
            elif member.isfile():
                files.add(name)
                if member.mode & 0o111:
                    executables.add(name)
    return PackageListing(
        frozenset(executables), frozenset(files), frozenset(directories), frozenset(links)
    )
