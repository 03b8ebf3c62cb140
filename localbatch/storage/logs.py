"""Log objects pushed while an instance runs: stdout/stderr redirects and LogMapping files.

The service pushes logs about every 30 s or 1 MB and once more at the end; so does this
streamer: a background thread looks at each host file every `poll` seconds and pushes the
whole file (atomically, see `transfer.publish_file`) when it grew by `threshold` bytes or
changed and `interval` seconds passed since the last push. `stop()` always ends with a
complete push of every file, also an empty one, so the objects exist once the instance ends.
A LogMapping directory is the instance's to fill, so it is read beneath itself
(`localbatch.beneath`): a symbolic link leading out of it is never pushed (LogUploadFailed).
"""

from __future__ import annotations

import contextlib
import logging
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from localbatch.beneath import Found, Root
from localbatch.storage.errors import LOG_UPLOAD_FAILED, StorageError, reason
from localbatch.storage.resolver import Location
from localbatch.storage.transfer import files_below, publish_file, publish_host_file

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 30.0
DEFAULT_THRESHOLD = 1_000_000  # "every 1 MB", as the service documents
DEFAULT_POLL = 1.0


@dataclass(frozen=True)
class Cadence:
    """When logs are pushed; tests pass small numbers instead of sleeping for 30 s."""

    interval: float = DEFAULT_INTERVAL
    threshold: int = DEFAULT_THRESHOLD
    poll: float = DEFAULT_POLL


@dataclass
class LogTarget:
    """One host file (or directory of files) and the object it is pushed to."""

    source: Path
    target: Location
    #: For a directory source: object name for a relative path inside it.
    name_for: Callable[[str], str] | None = None
    pushed_size: int = -1
    pushed_mtime: int = -1
    pushed_at: float = field(default=0.0)


class LogStreamer:
    """Pushes a set of log files while a program runs (one thread per attempt)."""

    def __init__(
        self, targets: list[LogTarget], cadence: Cadence, secrets: tuple[str, ...] = ()
    ) -> None:
        self.targets = targets
        self.cadence = cadence
        self.secrets = secrets
        #: Set after every push; tests wait on it instead of sleeping.
        self.pushed = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None or not self.targets:
            return
        now = time.monotonic()
        for target in self.targets:
            target.pushed_at = now
        self._thread = threading.Thread(target=self._run, name="localbatch-logs", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.cadence.poll):
            for target in self.targets:
                try:
                    self._maybe_push(target)
                except Exception as exc:  # retried at the next tick and at the end
                    log.warning(
                        "pushing %s failed: %s", target.target.url, reason(exc, self.secrets)
                    )

    def _maybe_push(self, target: LogTarget) -> None:
        size, mtime = _size_and_mtime(target.source)
        if (size, mtime) == (target.pushed_size, target.pushed_mtime):
            return
        grown = size - max(target.pushed_size, 0) >= self.cadence.threshold
        due = time.monotonic() - target.pushed_at >= self.cadence.interval
        if grown or due:
            self._push(target, size, mtime)

    def _push(self, target: LogTarget, size: int, mtime: int) -> None:
        if target.source.is_dir():
            root = Root(target.source)
            for found in _log_files(root):
                name = target.name_for(found.path) if target.name_for else found.path
                publish_file(root, found.path, target.target.child(name))
        else:
            if not target.source.exists():
                target.source.touch()
            publish_host_file(target.source, target.target)
        target.pushed_size, target.pushed_mtime = size, mtime
        target.pushed_at = time.monotonic()
        self.pushed.set()

    def stop(self) -> None:
        """Stop the thread and push every file completely; LogUploadFailed if one fails."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        failures = []
        for target in self.targets:
            try:
                size, mtime = _size_and_mtime(target.source)
                self._push(target, size, mtime)
            except Exception as exc:  # a file system's own error, said with the others
                failures.append(f"{target.target.url}: {reason(exc, self.secrets)}")
        if failures:
            raise StorageError(LOG_UPLOAD_FAILED, "log upload failed: " + "; ".join(failures))


def _log_files(root: Root) -> list[Found]:
    """The regular files of a LogMapping directory; LogUploadFailed for a link leading out."""
    found = files_below(root, LOG_UPLOAD_FAILED, "log directory")
    return [f for f in found if f.stat is not None and stat.S_ISREG(f.stat.st_mode)]


def _size_and_mtime(source: Path) -> tuple[int, int]:
    """Size and mtime of a file, or the totals of a directory's files; (0, 0) when absent."""
    with contextlib.suppress(FileNotFoundError):
        if source.is_dir():
            infos = [f.stat for f in Root(source).walk() if f.stat and stat.S_ISREG(f.stat.st_mode)]
            return sum(i.st_size for i in infos), max((i.st_mtime_ns for i in infos), default=0)
        info = source.stat()
        return info.st_size, info.st_mtime_ns
    return 0, 0
