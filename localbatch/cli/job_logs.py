"""`localbatch logs`: the local stdout/stderr files of instances, every line prefixed.

Instances append to `<state>/jobs/<job>/logs/<task>.<n>.stdout|stderr` across retries (the
same files pushed to the job's StdoutRedirectPath/StderrRedirectPath). Following reads what
was appended since the last look, until the job has ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from localbatch.storage.layout import job_dir, log_file_name, logs_dir
from localbatch.store.records import InstanceRecord

#: Seconds between two looks at the files while following.
FOLLOW_POLL = 0.5


def log_file(state_dir: Path, instance: InstanceRecord, stream: str) -> Path:
    recorded = instance.detail.get(f"{stream}_path")
    if recorded:
        return Path(str(recorded))
    name = log_file_name(instance.task_name, instance.instance_id, stream)
    return logs_dir(job_dir(state_dir, instance.job_id)) / name


@dataclass
class _Source:
    prefix: str
    path: Path
    offset: int = 0
    partial: str = ""


@dataclass
class LogPrinter:
    """Prints complete lines as `<task>.<n> | line`, remembering how far each file was read."""

    out: TextIO
    _sources: dict[Path, _Source] = field(default_factory=dict)
    #: Lines printed so far, so that "nothing at all" can be said rather than left silent.
    printed: int = 0

    def watch(self, prefix: str, path: Path) -> None:
        self._sources.setdefault(path, _Source(prefix, path))

    def drain(self, final: bool = False) -> None:
        """Print what each file gained; with `final`, also an unterminated last line."""
        for source in self._sources.values():
            try:
                with source.path.open("rb") as handle:
                    handle.seek(source.offset)
                    data = handle.read()
            except FileNotFoundError:
                continue
            source.offset += len(data)
            text = source.partial + data.decode("utf-8", errors="replace")
            lines = text.split("\n")
            source.partial = lines.pop()
            if final and source.partial:
                lines.append(source.partial)
                source.partial = ""
            for line in lines:
                self.out.write(f"{source.prefix} | {line}\n")
            self.printed += len(lines)
        self.out.flush()


def print_logs(
    printer: LogPrinter,
    state_dir: Path,
    instances: Callable[[], Iterable[InstanceRecord]],
    stream: str,
    *,
    follow: bool = False,
    ended: Callable[[], bool] = lambda: True,
) -> None:
    """Print the logs of `instances()`; with `follow`, keep printing until `ended()`."""
    while True:
        done = not follow or ended()
        for instance in instances():
            prefix = f"{instance.task_name}.{instance.instance_id}"
            printer.watch(prefix, log_file(state_dir, instance, stream))
        printer.drain(final=done)
        if done:
            return
        time.sleep(FOLLOW_POLL)
