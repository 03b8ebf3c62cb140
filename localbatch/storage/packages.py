"""The package cache: each distinct `PackagePath` archive unpacked once, linked per attempt.

Why this shape:
- Keyed by content (SHA-256 of the .tar.gz), so the same archive under two names or two
  jobs is unpacked once. Hashing is remembered per (path, size, mtime/ETag), so repeated
  instances of a job neither re-read nor re-hash the archive.
- Extraction is checked member by member (Python's `tarfile` "data" filter): absolute
  names, `..`, links leading out and device files are refused with a PackageError, and the
  half-extracted tree is removed; nothing is written outside the cache's temporary dir.
  The unpacked size is bounded while unpacking (`[packages] max_unpacked_size`), and the
  cache as a whole (`[packages] cache_size`): least recently used entries that no running
  attempt holds are pruned once it is over (`cache_pruning`).
- Each attempt gets its own view of the package, chosen by `copy_mode`:
  "overlay": an overlay mount over the cache entry (true copy-on-write for every file, one
  mount per attempt, see `overlay.py`); needs root and is probed once. "auto" (default) is
  "overlay" where the probe succeeds, else "link". "link": a directory tree of its own;
  small files (<= 64 KiB, the ones programs rewrite or append to) are copied, larger ones
  are reflinks where the file system can (btrfs, XFS), otherwise hard links to the cached
  files, which are made read-only so that a program writing one in place fails visibly
  (EACCES) instead of changing the cache. A program running as root bypasses file modes:
  after each attempt the cache entry is checked and, if changed, evicted and unpacked again
  for the next attempt. "copy": plain private copies of everything (slow, always safe).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import stat
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from localbatch.beneath import Escape, Root
from localbatch.config import DEFAULT_PACKAGE_CACHE_SIZE, DEFAULT_PACKAGE_MAX_UNPACKED
from localbatch.storage import cache_pruning, overlay
from localbatch.storage.errors import PACKAGE_ERROR, StorageError, file_system_errors
from localbatch.storage.resolver import Location
from localbatch.storage.safe_tar import extract_archive

log = logging.getLogger(__name__)

#: What `[packages] copy` asks for; `Copying` is what one attempt got.
CopyMode = Literal["auto", "overlay", "link", "copy"]
Copying = Literal["overlay", "link", "copy"]
#: In link mode, files up to this size are still copied: small files (configs, scripts,
#: shipped empty logs) are the ones programs rewrite or append to in place, and copying
#: them costs about what a link does.
SMALL_FILE_LIMIT = 64 * 1024
#: Linux FICLONE ioctl: share the extents of one file with another (copy-on-write).
_FICLONE = 0x40049409
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileEntry:
    relative: str
    size: int
    mtime_ns: int
    mode: int


@dataclass(frozen=True)
class CachedPackage:
    """One unpacked archive in the cache."""

    digest: str
    tree: Path
    dirs: tuple[str, ...]
    files: tuple[FileEntry, ...]
    symlinks: tuple[tuple[str, str], ...]


class PackageCache:
    """Packages under `<cache_dir>/<sha256>/tree`; thread-safe, safe across processes."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        copy_mode: CopyMode = "link",
        max_unpacked: int = DEFAULT_PACKAGE_MAX_UNPACKED,
        cache_size: int = DEFAULT_PACKAGE_CACHE_SIZE,
    ) -> None:
        self.cache_dir = cache_dir
        self.copy_mode = copy_mode
        self.max_unpacked = max_unpacked
        self.cache_size = cache_size
        #: How attempts get their files when they get no overlay.
        self.files_mode: Copying = "copy" if copy_mode == "copy" else "link"
        self._lock = threading.Lock()
        self._overlay: overlay.Availability | None = None
        self._overlay_failed_once = False
        self._key_locks: dict[str, threading.Lock] = {}
        self._digests: dict[str, str] = {}
        self._packages: dict[str, CachedPackage] = {}
        self._reflink: bool | None = None

    # -- fetching -----------------------------------------------------------------------
    def fetch(self, location: Location) -> CachedPackage:
        """The unpacked package at `location`, unpacking it if no attempt did before."""
        signature = _signature(location)
        with self._key_lock(signature):
            digest = self._digests.get(signature) or self._read_index(signature)
            package = self._load(digest) if digest else None
            if package is None:
                package = self._unpack(location)
                self._write_index(signature, package.digest)
                cache_pruning.prune(self.cache_dir, self.cache_size, keep=package.digest)
            self._digests[signature] = package.digest
            return package

    def fetch_held(self, location: Location) -> tuple[CachedPackage, cache_pruning.Hold]:
        """`fetch`, and a hold on the entry that keeps pruning off it until released."""
        for _ in range(3):
            package = self.fetch(location)
            held = cache_pruning.hold(self.cache_dir / package.digest)
            if held is not None:
                return package, held
            self._forget(package)  # pruned between the lookup and the hold: unpack again
        raise StorageError(
            PACKAGE_ERROR, f"package {location.url} kept being pruned from its cache"
        )

    def _forget(self, package: CachedPackage) -> None:
        with self._lock:
            self._packages.pop(package.digest, None)
            for signature in [s for s, d in self._digests.items() if d == package.digest]:
                del self._digests[signature]

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _index_path(self, signature: str) -> Path:
        return self.cache_dir / "index" / hashlib.sha256(signature.encode()).hexdigest()

    def _read_index(self, signature: str) -> str | None:
        try:
            return self._index_path(signature).read_text().strip() or None
        except OSError:
            return None

    def _write_index(self, signature: str, digest: str) -> None:
        path = self._index_path(signature)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f"{path.name}.{uuid.uuid4().hex}")
        temp.write_text(digest)
        os.replace(temp, path)

    def _load(self, digest: str) -> CachedPackage | None:
        cached = self._packages.get(digest)
        if cached is not None and (self.cache_dir / digest / "manifest.json").is_file():
            return cached
        try:
            data = json.loads((self.cache_dir / digest / "manifest.json").read_text())
        except (OSError, ValueError):
            return None
        package = CachedPackage(
            digest=digest,
            tree=self.cache_dir / digest / "tree",
            dirs=tuple(data["dirs"]),
            files=tuple(FileEntry(*entry) for entry in data["files"]),
            symlinks=tuple((str(a), str(b)) for a, b in data["symlinks"]),
        )
        self._packages[digest] = package
        return package

    def _unpack(self, location: Location) -> CachedPackage:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        work = self.cache_dir / f"tmp-{uuid.uuid4().hex}"
        work.mkdir()
        try:
            with _open_archive(location, work) as (archive, digest):
                if (package := self._load(digest)) is not None:
                    return package
                tree = work / "tree"
                tree.mkdir()
                size = extract_archive(archive, tree, location.url, self.max_unpacked)
            package = _manifest(digest, tree)
            (work / "manifest.json").write_text(
                json.dumps(
                    {
                        "dirs": package.dirs,
                        "files": [list(vars(f).values()) for f in package.files],
                        "symlinks": package.symlinks,
                        "size": size,
                    }
                )
            )
            (work / cache_pruning.LAST_USED_NAME).touch()
            final = self.cache_dir / digest
            try:
                os.rename(work, final)
            except OSError as exc:  # another process unpacked the same archive meanwhile
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        finally:
            if work.exists():
                _remove_tree(work)
        loaded = self._load(digest)
        if loaded is None:
            raise StorageError(PACKAGE_ERROR, f"package cache entry {digest} vanished")
        return loaded

    # -- per-attempt copies -------------------------------------------------------------
    def overlay_availability(self) -> overlay.Availability:
        """Whether overlay views work here (probed once, by a trial mount in the cache dir).

        The first answer is logged as a notice; as a warning when a root process gets no
        overlay, since its programs could then write through links into the cache.
        """
        with self._lock:
            if self._overlay is not None:
                return self._overlay
            if self.copy_mode in ("auto", "overlay"):
                self._overlay = overlay.probe(self.cache_dir)
            else:
                self._overlay = overlay.Availability(False, f"copy mode is {self.copy_mode}")
        unprotected = not self._overlay.usable and os.geteuid() == 0
        level = logging.WARNING if unprotected and self.copy_mode == "auto" else logging.INFO
        log.log(level, "%s", self.notice())
        return self._overlay

    def method(self) -> Copying:
        """What attempts get: an overlay where asked for (or "auto") and available."""
        if self.copy_mode in ("auto", "overlay") and self.overlay_availability().usable:
            return "overlay"
        return self.files_mode

    def notice(self) -> str:
        """One line saying how attempts get their package, and why no overlay if none."""
        method = self.method()
        if method == "overlay":
            return "package copies: overlay (a copy-on-write view per attempt)"
        if self.copy_mode == "overlay":
            return _overlay_refused(self.overlay_availability().reason)
        if self.copy_mode == "auto":
            return f"package copies: {method}; no overlay: {self.overlay_availability().reason}"
        return f"package copies: {method}"

    def materialize(self, package: CachedPackage, workdir: Path, *, mount: bool = False) -> Copying:
        """Give `workdir` (created) a private view of the package, cheaply; answer how.

        With `mount` and overlay views available, `workdir` becomes an overlay mount (its
        layers beside it: `<workdir>.upper`, `<workdir>.scratch`) that the caller must
        `release`.
        """
        workdir.mkdir(parents=True, exist_ok=True)
        if mount and self._mount_overlay(package, workdir, overlay.Layers.beside(workdir)):
            return "overlay"
        self._fill(package, workdir)
        return self.files_mode

    def _mount_overlay(self, package: CachedPackage, workdir: Path, layers: overlay.Layers) -> bool:
        if self.copy_mode not in ("auto", "overlay"):
            return False
        availability = self.overlay_availability()
        if not availability.usable:
            if self.copy_mode == "overlay":
                raise StorageError(PACKAGE_ERROR, _overlay_refused(availability.reason))
            return False
        try:
            overlay.mount(package.tree, layers, workdir, availability.options)
        except FileNotFoundError:
            raise  # the cache entry was evicted meanwhile: the caller fetches it again
        except OSError as exc:
            reason = f"mounting an overlay at {workdir} failed: {exc.strerror or exc}"
            if self.copy_mode == "overlay":
                raise StorageError(PACKAGE_ERROR, _overlay_refused(reason)) from None
            if not self._overlay_failed_once:
                self._overlay_failed_once = True
                log.warning("%s; this attempt gets %s copies instead", reason, self.files_mode)
            return False
        return True

    def release(self, workdir: Path, *, keep: bool = False) -> None:
        """Undo `materialize`'s overlay mount, if any; with `keep`, leave a plain copy of
        what the program saw at `workdir` (the attempt is kept for inspection)."""
        if not os.path.ismount(workdir):
            return
        if keep:
            overlay.unmount_keeping_view(workdir, overlay.Layers.beside(workdir))
        else:
            overlay.unmount(workdir)

    def _fill(self, package: CachedPackage, workdir: Path) -> None:
        """A directory tree of the attempt's own: small copies, links or reflinks, copies."""
        linking = self.files_mode == "link"
        with _directory_fd(package.tree) as source, _directory_fd(workdir) as target:
            for relative in package.dirs:
                os.mkdir(relative, dir_fd=target)
            for entry in package.files:  # kept tight: one or two system calls per file
                if linking and entry.size <= SMALL_FILE_LIMIT:
                    _copy_small(entry, source, target)
                elif linking and self._reflink is False:
                    self._link(entry, source, target, package.tree, workdir)
                else:
                    self._copy(package.tree / entry.relative, workdir / entry.relative)
            for relative, link_target in package.symlinks:
                os.symlink(link_target, relative, dir_fd=target)

    def _link(self, entry: FileEntry, source: int, target: int, tree: Path, workdir: Path) -> None:
        try:
            os.link(entry.relative, entry.relative, src_dir_fd=source, dst_dir_fd=target)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EMLINK, errno.EPERM):
                raise
            self._copy(tree / entry.relative, workdir / entry.relative)

    def _copy(self, source: Path, target: Path) -> None:
        if self.files_mode == "copy":
            shutil.copy2(source, target)
            target.chmod(target.stat().st_mode | stat.S_IWUSR)
            return
        if self._reflink is not False and self._try_reflink(source, target):
            return
        try:
            os.link(source, target)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EMLINK, errno.EPERM):
                raise
            shutil.copy2(source, target)
            target.chmod(target.stat().st_mode | stat.S_IWUSR)

    def _try_reflink(self, source: Path, target: Path) -> bool:
        with open(source, "rb") as src, open(target, "wb") as dst:
            try:
                fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
            except OSError:
                self._reflink = False
        if self._reflink is False:
            target.unlink()
            return False
        self._reflink = True
        shutil.copystat(source, target)
        target.chmod(target.stat().st_mode | stat.S_IWUSR)
        return True

    def verify(self, package: CachedPackage) -> bool:
        """After an attempt: is the cached tree unchanged? If not, evict it and say so."""
        with _directory_fd(package.tree) as tree:
            changed = next((e for e in package.files if not _unchanged(e, tree)), None)
        if changed is not None:
            self.evict(package, f"{changed.relative} was changed through a link")
            return False
        return True

    def evict(self, package: CachedPackage, reason: str) -> None:
        """Forget a cache entry that can no longer be trusted; it is renamed away first so
        that no new attempt links to it while it is being removed."""
        log.warning("package cache entry %s evicted: %s", package.digest, reason)
        self._forget(package)
        entry = self.cache_dir / package.digest
        doomed = self.cache_dir / f"evicted-{uuid.uuid4().hex}"
        with contextlib.suppress(FileNotFoundError):
            os.rename(entry, doomed)
            _remove_tree(doomed)


def _overlay_refused(reason: str) -> str:
    return f'[packages] copy = "overlay" cannot be honoured: {reason}'


def _copy_small(entry: FileEntry, source_dir: int, target_dir: int) -> None:
    """A private, writable copy of one small cached file (relative to two open dirs)."""
    source = os.open(entry.relative, os.O_RDONLY, dir_fd=source_dir)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        target = os.open(entry.relative, flags, 0o600, dir_fd=target_dir)
        try:
            remaining = entry.size
            while remaining > 0 and (copied := os.copy_file_range(source, target, remaining)):
                remaining -= copied
            os.fchmod(target, entry.mode | stat.S_IWUSR)
            os.utime(target, ns=(entry.mtime_ns, entry.mtime_ns))
        finally:
            os.close(target)
    finally:
        os.close(source)


@contextlib.contextmanager
def _directory_fd(path: Path) -> Iterator[int]:
    """An open directory, so that many operations inside it skip the path lookups."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield fd
    finally:
        os.close(fd)


def _unchanged(entry: FileEntry, tree_fd: int) -> bool:
    try:
        info = os.stat(entry.relative, dir_fd=tree_fd)
    except OSError:
        return False
    return (info.st_size, info.st_mtime_ns, stat.S_IMODE(info.st_mode)) == (
        entry.size,
        entry.mtime_ns,
        entry.mode,
    )


def _signature(location: Location) -> str:
    """What identifies one version of an archive without reading it."""
    not_a_file = StorageError(PACKAGE_ERROR, f"PackagePath {location.url} is not a file")
    with _reading(location):
        if location.local is not None:
            info = _local_archive(location).stat(_key(location))
            if not stat.S_ISREG(info.st_mode):
                raise not_a_file
            stamp = f"{info.st_size}:{info.st_mtime_ns}:{info.st_ino}:{info.st_dev}"
            return f"local:{location.bucket_dir}/{_key(location)}:{stamp}"
        try:
            details: dict[str, Any] = location.fs.info(location.path)
        except IsADirectoryError:
            raise not_a_file from None
    if details.get("type") == "directory":
        raise not_a_file
    version = [str(details.get(k, "")) for k in ("size", "ETag", "etag", "LastModified", "mtime")]
    version.append(str(details.get("created", "")))
    return f"{location.fs.protocol}:{location.path}:{':'.join(version)}"


def _local_archive(location: Location) -> Root:
    """The bucket directory a local archive is read beneath (a link out is not followed)."""
    assert location.bucket_dir is not None
    return Root(location.bucket_dir)


def _key(location: Location) -> str:
    return "/".join(location.oss.parts)


def _escaped(location: Location) -> StorageError:
    return StorageError(
        PACKAGE_ERROR,
        f"PackagePath {location.url} leads outside its bucket directory through a symbolic link",
    )


@contextlib.contextmanager
def _reading(location: Location) -> Iterator[None]:
    """Reading a PackagePath: a link leading out of its bucket, or what its file system
    raises, is the job's PackageError."""
    with file_system_errors(
        PACKAGE_ERROR,
        f"cannot read PackagePath {location.url}",
        missing=f"PackagePath {location.url} does not exist",
    ):
        try:
            yield
        except Escape:
            raise _escaped(location) from None


@contextlib.contextmanager
def _open_archive(location: Location, work: Path) -> Iterator[tuple[IO[bytes], str]]:
    """The archive as a local binary file and its SHA-256 (remote ones downloaded first)."""
    with _reading(location):
        if location.local is not None:
            with os.fdopen(_local_archive(location).open(_key(location)), "rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
                handle.seek(0)
                yield handle, digest
            return
        download = work / "package.tar.gz"
        hasher = hashlib.sha256()
        with location.fs.open(location.path, "rb") as remote, open(download, "wb") as local:
            while chunk := remote.read(_CHUNK):
                hasher.update(chunk)
                local.write(chunk)
        with open(download, "rb") as handle:
            yield handle, hasher.hexdigest()


def _manifest(digest: str, tree: Path) -> CachedPackage:
    """List the unpacked tree and make its files read-only (they may be shared by links)."""
    dirs: list[str] = []
    files: list[FileEntry] = []
    symlinks: list[tuple[str, str]] = []
    for current, dirnames, filenames in os.walk(tree):
        base = Path(current)
        for name in sorted(dirnames):
            path = base / name
            relative = str(path.relative_to(tree))
            if path.is_symlink():
                symlinks.append((relative, os.readlink(path)))
            else:
                dirs.append(relative)
        for name in sorted(filenames):
            path = base / name
            relative = str(path.relative_to(tree))
            if path.is_symlink():
                symlinks.append((relative, os.readlink(path)))
                continue
            info = path.stat()
            mode = stat.S_IMODE(info.st_mode)
            mode &= ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
            path.chmod(mode)
            info = path.stat()
            files.append(FileEntry(relative, info.st_size, info.st_mtime_ns, mode))
    return CachedPackage(digest, tree, tuple(dirs), tuple(files), tuple(symlinks))


def _remove_tree(path: Path) -> None:
    """rmtree that also removes read-only files (their directories stay writable)."""
    shutil.rmtree(path, ignore_errors=True)
