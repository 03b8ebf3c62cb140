"""File operations confined beneath a root directory: the one rule for paths under a root.

Everything a job brings is hostile, symbolic links included: an instance with a writable
mount can plant `lnk -> /etc` in a bucket and then ask the OSS endpoint, an OutputMapping
or a later job's InputMapping to follow it. So every path localbatch opens, creates, lists,
copies or deletes on a job's behalf is resolved beneath an open directory (its root: a
bucket's directory, an attempt's output directory, a NAS directory):

- `..` and symbolic links are followed only while they stay beneath the root; an absolute
  link, or one that climbs above the root, is refused with `Escape` (EXDEV). A link that
  stays inside is followed, as the kernel follows it for the program that made it.
- `/proc` "magic" links are never followed.
- The root's own path is trusted (the host's config chose it).

Where the kernel has it (Linux >= 5.6) this is openat2(RESOLVE_BENEATH |
RESOLVE_NO_MAGICLINKS), atomic against concurrent renames. Elsewhere (older kernels, or a
seccomp filter refusing the call) a walk opens one component at a time with O_NOFOLLOW,
reads each link itself and keeps its own stack of open directories for `..`, so the kernel
never follows a link: same answers, same refusals.

No maintained Python library does this (libpathrs' bindings need a native library that
Debian does not ship), hence this one module.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: openat2(2) resolve flags and syscall number (the same on every Linux architecture).
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_BENEATH = 0x08
_SYS_OPENAT2 = 437
#: Symbolic links followed in one resolution before ELOOP, as the kernel counts.
MAX_LINKS = 40
#: openat2 answers EAGAIN when a rename raced its `..` check; retried this often.
_RACE_RETRIES = 64

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _OpenHow(ctypes.Structure):
    _fields_ = (
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    )


class Escape(OSError):
    """A path that leads outside its root (through `..` or a symbolic link)."""

    def __init__(self, path: str) -> None:
        super().__init__(errno.EXDEV, "leads outside its root through a symbolic link", path)


#: Whether openat2 is used: None until probed; tests set False to force the walk.
use_openat2: bool | None = None


def _openat2(dir_fd: int, path: str, flags: int, mode: int) -> int:
    tmpfile = getattr(os, "O_TMPFILE", 0)  # its bits include O_DIRECTORY's
    creating = flags & os.O_CREAT or (tmpfile and flags & tmpfile == tmpfile)
    how = _OpenHow(flags | os.O_CLOEXEC, mode if creating else 0, RESOLVE_BENEATH)
    how.resolve |= RESOLVE_NO_MAGICLINKS
    encoded = os.fsencode(path or ".")
    for _ in range(_RACE_RETRIES):
        fd = _libc.syscall(_SYS_OPENAT2, dir_fd, encoded, ctypes.byref(how), ctypes.sizeof(how))
        if fd >= 0:
            return int(fd)
        code = ctypes.get_errno()
        if code == errno.EXDEV:
            raise Escape(path)
        if code not in (errno.EAGAIN, errno.EINTR):
            raise OSError(code, os.strerror(code), path)
    raise OSError(errno.EAGAIN, "renames kept racing the resolution", path)


def _kernel_has_openat2() -> bool:
    fd = os.open("/", os.O_PATH | os.O_DIRECTORY)
    try:
        os.close(_openat2(fd, ".", os.O_PATH | os.O_DIRECTORY, 0))
        return True
    except OSError:  # ENOSYS (old kernel), EPERM/ENOSYS (seccomp), E2BIG
        return False
    finally:
        os.close(fd)


def openat2_available() -> bool:
    global use_openat2
    if use_openat2 is None:
        use_openat2 = _kernel_has_openat2()
    return use_openat2


def _components(path: str) -> list[str]:
    if path.startswith("/"):
        raise Escape(path)
    return [part for part in path.split("/") if part not in ("", ".")]


def _walk(root_fd: int, path: str, flags: int, mode: int) -> int:
    """openat2(RESOLVE_BENEATH) without openat2: one component at a time, links read here."""
    pending = _components(path)[::-1]
    entered: list[int] = []  # open directories below the root, deepest last
    links = 0
    try:
        while True:
            current = entered[-1] if entered else root_fd
            if not pending:
                return os.open(".", flags | os.O_CLOEXEC, mode, dir_fd=current)
            name = pending.pop()
            if name == "..":
                if not entered:
                    raise Escape(path)
                os.close(entered.pop())
                continue
            last = not pending
            try:
                if last:
                    fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=current)
                else:
                    fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=current)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR) or not _is_link(name, current):
                    raise
                if last and flags & os.O_NOFOLLOW:
                    raise
                fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=current)
            kind = stat.S_IFMT(os.fstat(fd).st_mode)
            if kind == stat.S_IFLNK and not (last and flags & os.O_NOFOLLOW):
                target = os.readlink("", dir_fd=fd)
                os.close(fd)
                links += 1
                if links > MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                pending.extend(_components(target)[::-1])
                continue
            if last:
                return fd
            if kind != stat.S_IFDIR:
                os.close(fd)
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            entered.append(fd)
    finally:
        for fd in entered:
            os.close(fd)


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def open_beneath(root_fd: int, path: str, flags: int, mode: int = 0o644) -> int:
    """`open(path, flags)` resolved beneath the directory `root_fd`; raises `Escape`.

    With O_NOFOLLOW the final component is not followed (as open(2)); "" is the root.
    """
    if openat2_available():
        return _openat2(root_fd, path, flags, mode)
    return _walk(root_fd, path, flags, mode)


def split_parent(path: str) -> tuple[str, str]:
    """("a/b", "c") for "a/b/c": the parent to resolve and the final name to act on."""
    parts = _components(path)
    if not parts or parts[-1] == "..":
        raise IsADirectoryError(errno.EISDIR, "names no entry of a directory", path)
    return "/".join(parts[:-1]), parts[-1]


@dataclass(frozen=True)
class Found:
    """Something other than a directory that `Root.walk` met."""

    #: '/'-separated path below the root.
    path: str
    #: stat of what it leads to; None for a link leading out of the root, or dangling.
    stat: os.stat_result | None
    #: Reached through a symbolic link (its own entry, or a directory above it).
    through_link: bool


class Root:
    """A directory that paths are resolved beneath; each call opens it anew (no fd kept)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Root({str(self.path)!r})"

    @contextlib.contextmanager
    def fd(self) -> Iterator[int]:
        """The root itself, open (its own path may hold links: the host chose it)."""
        fd = os.open(self.path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            yield fd
        finally:
            os.close(fd)

    def open(self, path: str, flags: int = os.O_RDONLY, mode: int = 0o644) -> int:
        """An fd for `path` below the root (the caller closes it)."""
        with self.fd() as root:
            return open_beneath(root, path, flags, mode)

    @contextlib.contextmanager
    def opened(self, path: str, flags: int = os.O_RDONLY) -> Iterator[int]:
        fd = self.open(path, flags)
        try:
            yield fd
        finally:
            os.close(fd)

    def stat(self, path: str) -> os.stat_result:
        """stat(2) of what `path` leads to (links inside followed)."""
        with self.opened(path, os.O_PATH) as fd:
            return os.fstat(fd)

    def lstat(self, path: str) -> os.stat_result:
        """lstat(2): the entry itself, a link not followed (its parent resolved beneath)."""
        with self.opened(path, os.O_PATH | os.O_NOFOLLOW) as fd:
            return os.fstat(fd)

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True

    @contextlib.contextmanager
    def parent(self, path: str, *, create: bool = False) -> Iterator[tuple[int, str]]:
        """(open parent directory, final name) of `path`, the parent made first if `create`."""
        parent, name = split_parent(path)
        fd = self.makedirs(parent) if create else self.open(parent, os.O_PATH | os.O_DIRECTORY)
        try:
            yield fd, name
        finally:
            os.close(fd)

    def makedirs(self, path: str, mode: int = 0o777) -> int:
        """`mkdir -p` beneath the root (the root too, if missing: its path is trusted);
        answers the directory, open (O_PATH)."""
        flags = os.O_PATH | os.O_DIRECTORY
        try:
            return self.open(path, flags)
        except FileNotFoundError:
            if not _components(path):
                self.path.mkdir(parents=True, exist_ok=True)
                return self.open(path, flags)
        # FileExistsError: made meanwhile, or a link (resolved by the open below)
        with (
            self.parent(path, create=True) as (parent_fd, name),
            contextlib.suppress(FileExistsError),
        ):
            os.mkdir(name, mode, dir_fd=parent_fd)
        return self.open(path, flags)

    def unlink(self, path: str) -> None:
        """Remove the entry `path` (a link itself, never what it points to)."""
        with self.parent(path) as (parent_fd, name):
            os.unlink(name, dir_fd=parent_fd)

    def rmdir(self, path: str) -> None:
        with self.parent(path) as (parent_fd, name):
            os.rmdir(name, dir_fd=parent_fd)

    def real_path(self, path: str) -> Path:
        """The host path, without links, of what `path` leads to now (for a bind mount,
        which takes a path; the kernel's own name for the open file, checked to be below
        the root's)."""
        with self.opened(path, os.O_PATH) as fd:
            real = Path(os.readlink(f"/proc/self/fd/{fd}"))
        base = Path(os.path.realpath(self.path))
        if real != base and base not in real.parents:
            raise Escape(path)
        return real

    def entries(self, path: str) -> list[tuple[str, os.stat_result]]:
        """(name, lstat) of each entry of the directory `path`: a link is described as a
        link (resolve it with `stat`), read while the directory is open."""
        found = []
        with self.opened(path, os.O_RDONLY | os.O_DIRECTORY) as fd, os.scandir(fd) as scan:
            for entry in scan:
                try:
                    found.append((entry.name, entry.stat(follow_symlinks=False)))
                except FileNotFoundError:  # removed since the listing was read
                    continue
        return found

    def walk(self, path: str = "") -> Iterator[Found]:
        """Everything but directories below `path`, depth first in name order; links are
        followed while they stay inside (a directory reached twice on one branch, a link
        loop, is walked once)."""
        top = self.stat(path)
        yield from self._walk(path, {(top.st_dev, top.st_ino)}, through_link=False)

    def _walk(self, path: str, branch: set[tuple[int, int]], through_link: bool) -> Iterator[Found]:
        for name, entry in sorted(self.entries(path)):
            below = f"{path}/{name}" if path else name
            linked = through_link or stat.S_ISLNK(entry.st_mode)
            st: os.stat_result | None = entry
            if stat.S_ISLNK(entry.st_mode):
                try:
                    st = self.stat(below)
                except (Escape, FileNotFoundError, NotADirectoryError):
                    st = None
                except OSError as exc:
                    if exc.errno != errno.ELOOP:
                        raise
                    st = None
            if st is None or not stat.S_ISDIR(st.st_mode):
                yield Found(below, st, linked)
                continue
            identity = (st.st_dev, st.st_ino)
            if identity in branch:
                continue
            yield from self._walk(below, branch | {identity}, linked)
