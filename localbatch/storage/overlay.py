"""Copy-on-write work directories: one overlay mount per attempt over a cached package.

Why: hard links into the package cache let a program running as root change a package file
for every instance running at the same moment. An overlay gives each attempt its own
writable view for the price of one mount (a millisecond or two) and nothing per file:
whatever the program writes, deletes or creates lands in the attempt's upper directory, and
the cache (the lower layer) is never written. It needs root, the kernel's overlay file
system and an upper directory on a file system overlayfs accepts (not overlay itself, as in
the root of many containers), so `probe` tries one real mount before anything relies on it.

Mounts are made with mount(2) directly (through libc): a `mount` process per attempt would
cost more than the whole copy it replaces. Each mount's source name (the first column of
/proc/self/mounts) names the process that made it, `localbatch-<pid>-<start time>`, so that
mounts left by a process that died can be told from the live ones of another localbatch
process on the same state dir, and from overlays that are not localbatch's at all.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import shutil
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

from localbatch import owner

log = logging.getLogger(__name__)

#: umount2 flag: detach now, free when the last user (an open file, a cwd) goes away.
MNT_DETACH = 2
#: Characters overlayfs reads as option or layer separators; such paths are not mounted.
_SEPARATORS = frozenset(",:\\")
_libc = ctypes.CDLL(None, use_errno=True)


class OverlayRefused(OSError):
    """An overlay mount that cannot be made for this attempt (the reason is the message)."""


@dataclass(frozen=True)
class Availability:
    """Whether attempts can get overlay work directories here, and why not if they cannot."""

    usable: bool
    reason: str = ""
    #: Extra mount options that the trial mount accepted ("volatile": no sync at unmount).
    options: str = ""


#: Source name prefix of localbatch's overlay mounts.
SOURCE_PREFIX = "localbatch-"


@dataclass(frozen=True)
class Layers:
    """An attempt's private overlay directories: the upper layer (what the program changed)
    and overlayfs's scratch directory, created beside the mount point."""

    upper: Path
    scratch: Path

    @classmethod
    def beside(cls, target: Path) -> Layers:
        return cls(
            target.with_name(f"{target.name}.upper"), target.with_name(f"{target.name}.scratch")
        )

    def remove(self) -> None:
        shutil.rmtree(self.upper, ignore_errors=True)
        shutil.rmtree(self.scratch, ignore_errors=True)


def probe(directory: Path) -> Availability:
    """Try one overlay mount with its upper layer under `directory` (created if missing)."""
    if os.geteuid() != 0:
        return Availability(False, "overlay mounts need root")
    if not _kernel_has_overlay():
        return Availability(False, "the kernel has no overlay file system")
    trial = directory / f"overlay-probe-{uuid.uuid4().hex}"
    try:
        (trial / "lower").mkdir(parents=True)
        (trial / "lower" / "file").write_bytes(b"lower")
        failure: OSError | None = None
        for options in ("volatile", ""):
            try:
                _trial_mount(trial, options)
                return Availability(True, "", options)
            except OSError as exc:
                failure = exc  # the plain mount's reason, if it fails too
        assert failure is not None
        return Availability(
            False, f"a trial overlay mount under {directory} failed: {_why(failure)}"
        )
    except OSError as exc:
        return Availability(False, f"cannot try an overlay mount under {directory}: {_why(exc)}")
    finally:
        unmount(trial / "merged")
        shutil.rmtree(trial, ignore_errors=True)


def _trial_mount(trial: Path, options: str) -> None:
    """Mount, write through the mount, check the write stayed in the upper layer."""
    merged = trial / "merged"
    merged.mkdir(exist_ok=True)
    layers = Layers(trial / f"upper-{options or 'plain'}", trial / f"scratch-{options or 'plain'}")
    mount(trial / "lower", layers, merged, options)
    try:
        with open(merged / "file", "r+b") as handle:
            handle.write(b"upper")
        if (trial / "lower" / "file").read_bytes() != b"lower":
            raise OSError(errno.EIO, "a write through the overlay reached the lower layer")
        if (layers.upper / "file").read_bytes() != b"upper":
            raise OSError(errno.EIO, "a write through the overlay did not reach the upper layer")
    finally:
        unmount(merged)


def _kernel_has_overlay() -> bool:
    try:
        with open("/proc/filesystems") as listing:
            return any(line.split()[-1:] == ["overlay"] for line in listing)
    except OSError:
        return False


def mount(lower: Path, layers: Layers, target: Path, options: str = "") -> None:
    """Mount `lower` (never written) with the private `layers` over the directory `target`."""
    paths = {"lowerdir": lower, "upperdir": layers.upper, "workdir": layers.scratch}
    odd = [str(p) for p in (*paths.values(), target) if _SEPARATORS & set(str(p))]
    if odd:
        raise OverlayRefused(errno.EINVAL, f"path {odd[0]!r} has a ',', ':' or '\\'")
    layers.upper.mkdir()
    layers.scratch.mkdir()
    data = ",".join([*(f"{key}={os.fsdecode(path)}" for key, path in paths.items()), options])
    source = _source_name().encode()
    try:
        _check(_libc.mount(source, os.fsencode(target), b"overlay", 0, data.rstrip(",").encode()))
    except OSError:
        layers.remove()
        raise


def unmount(target: Path) -> bool:
    """Unmount `target` if something is mounted there (lazily if busy); False if nothing was."""
    path = os.fsencode(target)
    if _libc.umount2(path, 0) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOENT):  # not a mount point (any more)
        return False
    if code == errno.EBUSY:
        log.warning("%s is still in use; detaching it, freed when the last user exits", target)
        _check(_libc.umount2(path, MNT_DETACH))
        return True
    raise OSError(code, f"cannot unmount {target}: {os.strerror(code)}")


def unmount_keeping_view(target: Path, layers: Layers) -> None:
    """Replace the overlay at `target` by a plain copy of what the program saw there (for an
    attempt kept for inspection, whose directory must outlive the mount)."""
    kept = target.with_name(f"{target.name}.kept-{uuid.uuid4().hex}")
    try:
        shutil.copytree(target, kept, symlinks=True, copy_function=_copy_regular)
    except (OSError, shutil.Error) as exc:  # e.g. no space left: keep the changes only
        shutil.rmtree(kept, ignore_errors=True)
        unmount(target)
        log.warning(
            "could not copy the work directory %s to keep it (%s); what the program changed "
            "or created there is kept in %s",
            target,
            exc,
            layers.upper,
        )
        return
    unmount(target)
    target.rmdir()
    os.rename(kept, target)
    layers.remove()


def _copy_regular(source: str, destination: str) -> None:
    """copy2 for regular files; a FIFO or socket left by the program is skipped (copying
    would block or fail), with a line in the log."""
    if stat.S_ISREG(os.lstat(source).st_mode):
        shutil.copy2(source, destination)
    else:
        log.warning("kept work directory: %s is not a regular file, not kept", source)


def clean_stale(root: Path) -> list[Path]:
    """Unmount localbatch's overlays under `root` whose mounting process is gone; answer
    where they were."""
    cleaned = []
    for target, source in reversed(_overlay_mounts(root)):  # deepest mount first
        if not source.startswith(SOURCE_PREFIX) or _owner_alive(source):
            continue
        with contextlib.suppress(OSError):
            if unmount(target):
                cleaned.append(target)
    if cleaned:
        log.warning("unmounted %d overlay work directories left by dead runs", len(cleaned))
    return cleaned


def _overlay_mounts(root: Path) -> list[tuple[Path, str]]:
    """(mount point, source name) of each overlay mounted under `root`, in mount order."""
    found = []
    prefix = os.path.realpath(root)
    with open("/proc/self/mountinfo") as table:
        for line in table:
            fields, _, tail = line.partition(" - ")
            kind, source, *_options = tail.split()
            point = _unescape(fields.split()[4])
            if kind == "overlay" and (point + "/").startswith(prefix + "/"):
                found.append((Path(point), _unescape(source)))
    return found


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040)."""
    for code in ("040", "011", "012", "134"):
        field = field.replace(f"\\{code}", chr(int(code, 8)))
    return field


def _source_name() -> str:
    """This process, as its mounts' source names it (pid and start time: pids are reused)."""
    return f"{SOURCE_PREFIX}{owner.this_process()}"


def _owner_alive(source: str) -> bool:
    return owner.alive(source.removeprefix(SOURCE_PREFIX))


def _check(result: int) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)
