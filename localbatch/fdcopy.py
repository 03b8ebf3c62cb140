"""Copying between open files in the kernel: copy_file_range (a reflink or a server-side
copy where the file system can), else sendfile, else read/write in 1 MiB steps."""

from __future__ import annotations

import contextlib
import os

#: Bytes read or written per step when the kernel cannot copy by itself.
CHUNK_SIZE = 1 << 20


def copy_chunk(source_fd: int, target_fd: int, remaining: int) -> int:
    """One copy step from the current offsets; answers the bytes copied (0 at the end)."""
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


def copy_all(source_fd: int, target_fd: int) -> int:
    """Copy the rest of `source_fd` (from its offset) to `target_fd`; answers the bytes."""
    total = 0
    remaining = os.fstat(source_fd).st_size
    while True:
        copied = copy_chunk(source_fd, target_fd, max(remaining - total, CHUNK_SIZE))
        if copied == 0:
            return total
        total += copied
