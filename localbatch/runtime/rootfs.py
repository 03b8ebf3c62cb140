"""An attempt's root file system in the process runtime: its image, privately writable.

The image's cached root file system is never written. Each attempt gets an overlay over
it (the cache as the lower layer, a private upper layer), mounted before bwrap starts and
unmounted when the attempt is released: the program may write anywhere, as in a
container, and what it writes goes with the attempt. The upper layers live in memory
(`/dev/shm/localbatch-<uid>/layers`, `[sandbox] layers = "memory"`, the default), where
making and removing one costs about a millisecond, and what a program writes outside its
work directory, mapped paths and mounts counts against its memory limit, as /tmp does;
or on disk (`layers = "disk"`: `<image-cache>/attempts/`), where a file system mounted with
`discard` makes each attempt's directories cost several milliseconds more. Overlay
mounts need root (`localbatch.storage.overlay.probe` tries one first); without them the
image is shown read-only, with fresh writable directories at /tmp, /var/tmp, /root, /run
and /home, so a write elsewhere fails with "Read-only file system" (README, "Process
runtime"). Either way /proc and /dev are fresh, and the host's /etc/resolv.conf and
/etc/hosts are shown read-only, as Docker shows them, since the network is the host's.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

from localbatch.runtime.image_supply import HOST_FILES, PreparedRootfs
from localbatch.storage import overlay

log = logging.getLogger(__name__)

#: Writable, fresh directories of a read-only image.
WRITABLE_DIRS = ("/tmp", "/var/tmp", "/root", "/run", "/home")
#: Top-level entries of an image that bwrap makes itself.
MADE_BY_BWRAP = frozenset({"proc", "dev"})


@dataclass
class AttemptRoot:
    """One attempt's root: an overlay mounted at `merged`, or the image read-only."""

    image: PreparedRootfs
    #: The attempt's own directory (overlay mode), holding the mount and its layers.
    directory: Path | None = None
    #: Who made it, and takes an unchanged overlay back for the next attempt.
    roots: AttemptRoots | None = None

    @property
    def merged(self) -> Path | None:
        return self.directory / "root" if self.directory is not None else None

    def bwrap_args(self) -> list[str]:
        """bwrap's arguments that build `/` from the image (before the job's binds)."""
        if self.merged is not None:
            args = ["--bind", str(self.merged), "/"]
        else:
            args = _read_only_args(self.image.rootfs)
        args += ["--proc", "/proc", "--dev", "/dev"]
        for name in HOST_FILES:
            inside = self.image.rootfs / name.lstrip("/")
            shown = inside.is_file() and not inside.is_symlink()
            if os.path.isfile(name) and (shown or self.merged is not None):
                args += ["--ro-bind", name, name]
        return args

    def release(self, keep: bool) -> None:
        """Unmount; remove the private layer, or keep what the program changed (`keep`)."""
        if self.directory is None:
            return
        assert self.merged is not None
        if not keep and self.roots is not None and self.roots.take_back(self):
            self.directory = None
            return
        overlay.unmount(self.merged)
        if keep:
            log.warning(
                "kept what attempt's program changed in its image: %s",
                overlay.Layers.beside(self.merged).upper,
            )
            return
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None


def _read_only_args(rootfs: Path) -> list[str]:
    """The image's top-level entries bound read-only; links kept as links."""
    args: list[str] = []
    writable = {d.strip("/") for d in WRITABLE_DIRS if d.count("/") == 1}
    for entry in sorted(os.scandir(rootfs), key=lambda e: e.name):
        if entry.name in MADE_BY_BWRAP or entry.name in writable:
            continue
        target = "/" + entry.name
        if entry.is_symlink():
            args += ["--symlink", os.readlink(entry.path), target]
        else:
            args += ["--ro-bind", entry.path, target]
    for directory in WRITABLE_DIRS:
        if directory.count("/") == 1 or (rootfs / directory.lstrip("/")).is_dir():
            args += ["--tmpfs", directory]
    return args


#: Where in-memory upper layers go when /dev/shm is a tmpfs.
SHM = Path("/dev/shm")


def memory_directory() -> Path | None:
    """This user's private directory for upper layers in memory, or None when /dev/shm is
    no usable tmpfs (then layers go to disk)."""
    try:
        with open("/proc/self/mounts") as mounts:
            if not any(line.split()[1:3] == [str(SHM), "tmpfs"] for line in mounts):
                return None
        directory = SHM / f"localbatch-{os.getuid()}"
        directory.mkdir(mode=0o700, exist_ok=True)
        status = directory.lstat()
    except OSError:
        return None
    if status.st_uid != os.getuid() or not os.path.isdir(directory) or directory.is_symlink():
        return None
    return directory / "layers"


class AttemptRoots:
    """Makes attempts' roots under one directory; probes once whether overlays work.

    An overlay whose upper layer is still empty when its attempt ends (the program wrote
    nothing outside its work directory and mappings) is the image as it was: it is kept
    mounted for the next attempt on that image, up to `IDLE_PER_IMAGE` of them, and
    unmounted when this process exits. So a trivial attempt costs no mount, and the kernel
    objects of the image's files are made once, not once per attempt."""

    IDLE_PER_IMAGE = 8

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._availability: overlay.Availability | None = None
        self._idle: dict[str, list[Path]] = {}
        self._lock = threading.Lock()
        atexit.register(self.close)

    @property
    def availability(self) -> overlay.Availability:
        if self._availability is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._availability = overlay.probe(self.directory)
        return self._availability

    def describe(self) -> str:
        if self.availability.usable:
            return f"a private overlay over the image per attempt, its layer in {self.directory}"
        return (
            f"the image read-only, writable /tmp, /root, /home, /run ({self.availability.reason})"
        )

    def open(self, image: PreparedRootfs) -> AttemptRoot:
        """The root of one attempt on `image`; OSError when its overlay cannot be mounted."""
        if not self.availability.usable:
            return AttemptRoot(image)
        with self._lock:
            idle = self._idle.get(image.key)
            if idle:
                return AttemptRoot(image, idle.pop(), self)
        directory = self.directory / f"{os.getpid()}-{uuid.uuid4().hex}"
        merged = directory / "root"
        merged.mkdir(parents=True)
        try:
            overlay.mount(
                image.rootfs, overlay.Layers.beside(merged), merged, self.availability.options
            )
        except OSError:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return AttemptRoot(image, directory, self)

    def take_back(self, root: AttemptRoot) -> bool:
        """Keep `root`'s overlay for the next attempt if the program changed nothing in it."""
        assert root.directory is not None and root.merged is not None
        upper = overlay.Layers.beside(root.merged).upper
        try:
            with os.scandir(upper) as entries:
                if next(entries, None) is not None:
                    return False
        except OSError:
            return False
        with self._lock:
            idle = self._idle.setdefault(root.image.key, [])
            if len(idle) >= self.IDLE_PER_IMAGE:
                return False
            idle.append(root.directory)
        return True

    def close(self) -> None:
        """Unmount and remove the overlays kept for later attempts."""
        with self._lock:
            kept = [directory for idle in self._idle.values() for directory in idle]
            self._idle.clear()
        for directory in kept:
            with contextlib.suppress(OSError):
                overlay.unmount(directory / "root")
            shutil.rmtree(directory, ignore_errors=True)

    def clean_stale(self) -> None:
        """Unmount and remove the roots of processes that died before releasing them."""
        if not self.directory.is_dir():
            return
        overlay.clean_stale(self.directory)
        for leftover in self.directory.iterdir():
            pid, _, _ = leftover.name.partition("-")
            if pid.isdigit() and not psutil.pid_exists(int(pid)):
                with contextlib.suppress(OSError):
                    overlay.unmount(leftover / "root")
                shutil.rmtree(leftover, ignore_errors=True)
