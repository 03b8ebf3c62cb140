"""Writing an object so that no reader ever sees half of it: temporary file, fsync, rename.

Bytes arrive in chunks and are hashed as they are written, so an object of any size is
never held in memory. The temporary file lives in the root's hidden directory (same file
system, so the rename is atomic) unless the bucket is another file system, in which case it
sits beside the target under a hidden name.
"""

from __future__ import annotations

import abc
import base64
import contextlib
import errno
import hashlib
import os
import uuid
from pathlib import Path
from typing import BinaryIO

from localbatch.ossendpoint.errors import OssError

#: Bytes read or written per step when streaming through Python.
CHUNK_SIZE = 1 << 20


def _copy_chunk(source_fd: int, target_fd: int, remaining: int) -> int:
    """One kernel-side copy step (copy_file_range, else sendfile, else read/write)."""
    count = min(remaining, 1 << 30)
    with contextlib.suppress(OSError, AttributeError):
        return os.copy_file_range(source_fd, target_fd, count)
    with contextlib.suppress(OSError):
        return os.sendfile(target_fd, source_fd, None, count)
    data = os.read(source_fd, min(count, CHUNK_SIZE))
    view = memoryview(data)
    while view:
        view = view[os.write(target_fd, view) :]
    return len(data)


def _open_temporary(directory: Path) -> tuple[Path, BinaryIO]:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f".localbatch-upload-{uuid.uuid4().hex}"
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

    def splice(self, source: Path) -> None:
        """Append a whole file without hashing it (multipart parts already carry their MD5)."""
        self._file.flush()
        with source.open("rb") as part:
            remaining = os.fstat(part.fileno()).st_size
            while remaining > 0:
                copied = _copy_chunk(part.fileno(), self._file.fileno(), remaining)
                if copied == 0:
                    break
                remaining -= copied
                self.size += copied

    def copy_range(self, source: Path, offset: int, length: int) -> None:
        """Append `length` bytes of `source` from `offset`, hashing them (CopyObject)."""
        with source.open("rb") as handle:
            handle.seek(offset)
            while length > 0:
                chunk = handle.read(min(length, CHUNK_SIZE))
                if not chunk:
                    break
                self.write(chunk)
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
        """Rename into place (after `finish`); parents are created as needed."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(self.temp_path, destination)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            self._publish_across_devices(destination)

    def _publish_across_devices(self, destination: Path) -> None:
        beside = destination.parent / f".localbatch-upload-{uuid.uuid4().hex}"
        with self.temp_path.open("rb") as source, beside.open("xb") as target:
            while chunk := source.read(CHUNK_SIZE):
                target.write(chunk)
            target.flush()
            os.fsync(target.fileno())
        os.replace(beside, destination)
        self.temp_path.unlink()

    def discard(self) -> None:
        """Drop everything written; safe to call at any point, also after a failure."""
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.temp_path.unlink()
