"""The last lines of an instance's log file, read from its end (a log can be large): what
the run summary (`application.failure_context`) and the run report show of a failed
instance.

Only a bounded window at the end is read; a line cut by the window's start is left out, and
a line longer than `LINE_LIMIT` characters is shown cut. The lines are the program's bytes,
decoded (invalid UTF-8 as `\\xNN`): hostile, each surface escapes them for where it shows
them.
"""

from __future__ import annotations

from pathlib import Path

#: At most this many bytes are read from the end of the file.
TAIL_BYTES = 64 << 10
#: A longer line is shown cut.
LINE_LIMIT = 1000


def last_lines(path: Path, count: int, offset: int = 0) -> tuple[str, ...]:
    """Up to `count` last lines of what follows byte `offset` of the file (an attempt's own
    output begins there); () when there is none or it cannot be read."""
    try:
        with path.open("rb") as handle:
            end = handle.seek(0, 2)
            start = max(offset, end - TAIL_BYTES, 0)
            handle.seek(start)
            data = handle.read(end - start)
    except OSError:
        return ()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if start > offset and len(lines) > 1:
        lines = lines[1:]  # the first is only the end of a line
    return tuple(_shown(line) for line in lines[-count:])


def _shown(line: bytes) -> str:
    text = line.decode("utf-8", "backslashreplace")
    return text if len(text) <= LINE_LIMIT else text[:LINE_LIMIT] + " [cut]"
