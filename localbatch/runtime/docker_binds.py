"""Docker's bind sources pinned: each is opened beneath its root and bound by localbatch
onto a private path, and Docker is given that path, never the source's own.

Docker takes a bind source as a path and resolves it when runc mounts it; meanwhile an
instance of another job with a writable mount of the same bucket could swap a directory on
that path for a link to `/etc`. runc refuses the open directory's `/proc/<pid>/fd` link (a
mount of another mount namespace), so localbatch mounts the open directory itself (mount(2)
of `/proc/self/fd/N`: a plain bind, made private) onto
`<state>/binds/<pid>-<start time>/<attempt>/<n>`: what is mounted there is what was opened,
whatever its name has become. The container's mount namespace gets its own copy of the
mount as it starts, so the private path is unmounted (lazily) and removed as soon as the
start returns, and on every failure path; the next run on the state dir sweeps those of a
run that died (its process tag names it).

Only possible when localbatch is root and the engine shares its mount namespace (a local
engine on a unix socket whose daemon, the socket's peer, has our /proc/self/ns/mnt): any
other engine would find an empty directory at the private path, so binds go by path there
(docs/security.md, "Known limits").
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import socket
import stat
import struct
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from localbatch import owner
from localbatch.runtime.base import Bind
from localbatch.runtime.bind_sources import opened_sources

log = logging.getLogger(__name__)

MS_BIND = 4096
MS_PRIVATE = 1 << 18
#: umount2 flags: detach now (the container keeps its copy); never follow a link.
MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8
_libc = ctypes.CDLL(None, use_errno=True)


def engine_shares_mounts(address: str) -> bool:
    """Whether the engine at `address` sees this process's mounts: a unix socket whose peer
    (the daemon, or the init that listens for it) is in our mount namespace."""
    if not address.startswith("unix://"):
        return False
    try:
        with socket.socket(socket.AF_UNIX) as engine:
            engine.settimeout(10)
            engine.connect(address.removeprefix("unix://"))
            credentials = engine.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        pid = struct.unpack("3i", credentials)[0]
        if pid <= 0:  # the daemon is in another pid namespace
            return False
        theirs = os.stat(f"/proc/{pid}/ns/mnt")
        ours = os.stat("/proc/self/ns/mnt")
    except OSError:
        return False
    return (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino)


class PrivateBinds:
    """Private mounts of opened bind sources under `directory` (`<state>/binds`)."""

    def __init__(self, directory: Path, engine_local: Callable[[], bool]) -> None:
        self.directory = directory
        #: Asked once, on first use (the engine may not run when the runtime is built).
        self._engine_local = engine_local
        self._usable: bool | None = None

    def usable(self) -> bool:
        """Root, and an engine that sees our mounts (asked once, answered the same after)."""
        if self._usable is None:
            self._usable = os.geteuid() == 0 and self._engine_local()
            if not self._usable:
                log.info(
                    "Docker binds go by path: private mounts of opened sources need root and "
                    "a local engine sharing localbatch's mount namespace"
                )
        return self._usable

    @contextlib.contextmanager
    def pinned(self, binds: Sequence[Bind], name: str) -> Iterator[tuple[Bind, ...]]:
        """`binds` with each source replaced by a private mount of it, opened now (beneath
        its root: `beneath.Escape` for a link leading out); unmounted and removed after the
        block, however it ends."""
        place = self.directory / owner.this_process() / f"{name}-{uuid.uuid4().hex[:8]}"
        # Only root may pass: a bucket under a private OSS root stays private while bound.
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)  # made by an older localbatch with the default mode
        for directory in (place.parent, place):
            directory.mkdir(mode=0o700, exist_ok=True)
        try:
            with opened_sources(binds) as fds:
                pinned = tuple(
                    replace(bind, source=_mount_open(fd, place / str(n)), root=None)
                    for n, (bind, fd) in enumerate(zip(binds, fds, strict=True))
                )
            yield pinned
        finally:
            _release(place)

    def sweep(self) -> list[Path]:
        """Unmount and remove the private mounts of runs whose process is gone."""
        swept = []
        for run in _directories_in(self.directory):
            if owner.alive(run.name):
                continue
            for place in _directories_in(run):  # another process may sweep it at once
                _release(place)
                swept.append(place)
            with contextlib.suppress(OSError):
                run.rmdir()
        if swept:
            log.warning("removed %d private bind mount(s) left by dead runs", len(swept))
        return swept


def _directories_in(directory: Path) -> list[Path]:
    """The directories in `directory` (none when it is gone): a stray file is no run."""
    try:
        return [entry for entry in directory.iterdir() if entry.is_dir() and not entry.is_symlink()]
    except OSError:
        return []


def _mount_open(fd: int, target: Path) -> Path:
    """Bind the open file `fd` onto `target` (made as a directory or a file, as it is)."""
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        target.mkdir()
    else:
        target.touch(exist_ok=False)
    path = os.fsencode(target)
    _check(_libc.mount(f"/proc/self/fd/{fd}".encode(), path, None, MS_BIND, None), target)
    # Private: unmounting it here must not reach into any copy of it, nor the other way.
    _check(_libc.mount(None, path, None, MS_PRIVATE, None), target)
    return target


def _release(place: Path) -> None:
    """Unmount (lazily) what is mounted in `place` and remove it. Names are only unlinked
    or rmdir'ed, never walked: a mount left in place refuses it (EBUSY) rather than have
    the bound directory's contents removed."""
    try:
        targets = list(place.iterdir())
    except FileNotFoundError:
        return
    for target in targets:
        if _libc.umount2(os.fsencode(target), MNT_DETACH | UMOUNT_NOFOLLOW) != 0:
            code = ctypes.get_errno()
            if code not in (errno.EINVAL, errno.ENOENT):  # EINVAL: not (or no longer) mounted
                log.warning("could not unmount %s: %s", target, os.strerror(code))
        try:
            if stat.S_ISDIR(os.lstat(target).st_mode):
                target.rmdir()
            else:
                target.unlink()
        except FileNotFoundError:
            pass  # removed by another process sweeping the same run
        except OSError as exc:
            log.warning("could not remove the private bind %s: %s", target, exc)
    with contextlib.suppress(OSError):
        place.rmdir()


def _check(result: int, target: Path) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"private bind mount: {os.strerror(code)}", str(target))
