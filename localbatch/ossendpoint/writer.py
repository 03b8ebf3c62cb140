"""Writing an object so that no reader ever sees half of it: temporary file, fsync, rename.

Bytes arrive in chunks and are hashed as they are written, so an object of any size is
never held in memory. The temporary file lives in the root's hidden directory (same file
system, so the rename is atomic) unless the bucket is another file system, in which case it
is copied beside the target under a hidden name first. Its name carries the writer's pid
and start time (`localbatch.tempfiles`), so one left by a killed process is swept.
"""

from __future__ import annotations

import abc
import base64
import contextlib
import errno
import hashlib
import os
from pathlib import Path
from typing import BinaryIO

from localbatch.fdcopy import CHUNK_SIZE, copy_chunk
from localbatch.ossendpoint.errors import OssError
from localbatch.tempfiles import temporary_name


def _open_temporary(directory: Path) -> tuple[Path, BinaryIO]:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / temporary_name()
    return path, path.open("xb")


class HashedSink(abc.ABC):
    """Bytes written to an open file, counted and hashed (MD5) on the way."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._md5 = hashlib.md5()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._md5.update(data)
        self.size += len(data)

    @property
    def md5_digest(self) -> bytes:
        return self._md5.digest()

    @property
    def etag(self) -> str:
        """The ETag OSS gives a PutObject: upper-case hex MD5 of the content."""
        return self._md5.hexdigest().upper()

    def check_content_md5(self, header: str | None) -> None:
        """Compare with a `Content-MD5` header (base64 of the binary MD5)."""
        if header is None:
            return
        expected = base64.b64encode(self.md5_digest).decode()
        if header.strip() != expected:
            raise OssError(
                "InvalidDigest",
                extra={"Content-MD5": header, "CalculatedContentMD5": expected},
            )

    @abc.abstractmethod
    def discard(self) -> None:
        """Undo everything written (after a failure or a refused check)."""


class AtomicWriter(HashedSink):
    """Collects one object's bytes; `publish` puts them at the destination in one rename."""

    def __init__(self, temp_dir: Path) -> None:
        self.temp_path, file = _open_temporary(temp_dir)
        super().__init__(file)
        self._finished: os.stat_result | None = None
        #: The copy made by `move_beside`: its name in `_beside_dir`, an fd the caller owns.
        self._beside: str | None = None
        self._beside_dir = -1

    def splice(self, source: Path) -> None:
        """Append a whole file without hashing it (multipart parts already carry their MD5)."""
        self._file.flush()
        with source.open("rb") as part:
            remaining = os.fstat(part.fileno()).st_size
            while remaining > 0:
                copied = copy_chunk(part.fileno(), self._file.fileno(), remaining)
                if copied == 0:
                    break
                remaining -= copied
                self.size += copied

    def copy_range(self, source_fd: int, offset: int, length: int) -> None:
        """Append `length` bytes of the open file `source_fd` from `offset`, hashing them."""
        while length > 0:
            chunk = os.pread(source_fd, min(length, CHUNK_SIZE), offset)
            if not chunk:
                break
            self.write(chunk)
            offset += len(chunk)
            length -= len(chunk)

    def finish(self) -> os.stat_result:
        """Flush and fsync (once); the stat returned is the one the published file will have."""
        if self._finished is None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._finished = os.stat(self.temp_path)
        return self._finished

    def publish(self, destination: Path) -> None:
        """Rename to `destination` in a directory of localbatch's own (after `finish`);
        FileNotFoundError when that directory is gone (an aborted upload's)."""
        os.replace(self.temp_path, destination)

    def publish_at(self, dir_fd: int, name: str) -> bool:
        """Rename to `name` in the open directory `dir_fd` (after `finish`); False when the
        directory is on another file system (nothing moved: `move_beside` first)."""
        try:
            if self._beside is not None:
                os.replace(self._beside, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                self._beside = None
            else:
                os.replace(self.temp_path, name, dst_dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            return False
        return True

    def move_beside(self, dir_fd: int) -> os.stat_result:
        """Copy the bytes to a temporary name in `dir_fd` (another file system), which
        becomes this writer's file; answers its stat, the stamp it will be published with."""
        name = temporary_name()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        target = os.open(name, flags, 0o644, dir_fd=dir_fd)
        try:
            with self.temp_path.open("rb") as source:
                while chunk := source.read(CHUNK_SIZE):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(target, view) :]
            os.fsync(target)
            st = os.fstat(target)
        except BaseException:
            os.close(target)
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=dir_fd)
            raise
        os.close(target)
        self.temp_path.unlink()
        self._beside = name
        self._beside_dir = dir_fd
        self._finished = st
        return st

    def discard(self) -> None:
        """Drop everything written; safe to call at any point, also after a failure."""
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.temp_path.unlink()
        if self._beside is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._beside, dir_fd=self._beside_dir)
            self._beside = None
