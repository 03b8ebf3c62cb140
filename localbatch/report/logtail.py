"""The last lines of a log file, read from its end (a log can be large)."""

from __future__ import annotations

import os
from pathlib import Path

#: At most this many bytes are read from the end of the file.
TAIL_BYTES = 64 * 1024


def last_lines(path: Path, count: int, offset: int = 0) -> tuple[str, ...]:
    """Up to `count` last lines of what follows `offset` in the file (an attempt's own
    output begins there); () when it cannot be read. Undecodable bytes are replaced."""
    try:
        with path.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            start = max(offset, size - TAIL_BYTES, 0)
            stream.seek(start)
            data = stream.read(size - start)
    except OSError:
        return ()
    lines = data.decode("utf-8", "replace").splitlines()
    if start > offset and lines:
        lines = lines[1:]  # the first one is cut
    return tuple(lines[-count:])
