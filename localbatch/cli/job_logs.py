"""`localbatch logs`: the local stdout/stderr files of instances, attempt by attempt.

Every attempt of an instance (its retries, and the runs of a restarted job) appends to the
same `<state>/jobs/<job>/logs/<task>.<n>.stdout|stderr` files, pushed as they are to the
job's StdoutRedirectPath/StderrRedirectPath under the service's names: they hold only what
the program wrote. Where each attempt begins in them is recorded in the store (its attempt
row's `stdout_offset`/`stderr_offset`), so this view tells attempts apart: a line before
each names it, a line after it says how it ended, and one attempt can be shown alone.
Output written before localbatch recorded these offsets comes first, as one part; an
instance with no output in the stream shows nothing (`status` lists its attempts).
Following reads what was appended since the last look, until what is followed has ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from localbatch.cli.terminal_text import safe_line
from localbatch.storage.layout import job_dir, log_file_name, logs_dir
from localbatch.store.records import AttemptRecord, InstanceRecord

#: Seconds between two looks at the files while following.
FOLLOW_POLL = 0.5
EARLIER_OUTPUT = "output of earlier attempts (not told apart)"


def log_file(state_dir: Path, instance: InstanceRecord, stream: str) -> Path:
    recorded = instance.detail.get(f"{stream}_path")
    if recorded:
        return Path(str(recorded))
    name = log_file_name(instance.task_name, instance.instance_id, stream)
    return logs_dir(job_dir(state_dir, instance.job_id)) / name


@dataclass(frozen=True)
class AttemptChoice:
    """Show only this attempt: of run `run`, else of the latest run that has it."""

    attempt: int
    run: int | None = None


@dataclass(frozen=True)
class LogPart:
    """The bytes of one attempt in an instance's log file: from `begin` to the next part's
    begin (or the end of the file)."""

    #: Named on the line before it; "" for none.
    title: str
    begin: int
    #: How it ended, said on the line after it ("" for nothing to say); None while it runs.
    ending: str | None
    shown: bool = True


def log_parts(
    attempts: Sequence[AttemptRecord], stream: str, size: int, choice: AttemptChoice | None = None
) -> list[LogPart]:
    """Split a log file of `size` bytes into its attempts' parts (in run, attempt order).

    An attempt with no recorded offset (it never started) holds no bytes: it begins where
    the next one does. Offsets are kept increasing and within the file.
    """
    if not attempts:
        return [LogPart("", 0, None, shown=choice is None)]
    begins: list[int] = []
    following = size
    for attempt in reversed(attempts):
        offset = attempt.stdout_offset if stream == "stdout" else attempt.stderr_offset
        following = following if offset is None else offset
        begins.insert(0, following)
    lowest = 0
    for index, begin in enumerate(begins):
        lowest = begins[index] = min(max(begin, lowest), size)
    several_runs = len({a.run for a in attempts}) > 1
    chosen = _chosen(attempts, choice)
    parts = [
        LogPart(
            f"run {a.run} attempt {a.attempt}" if several_runs else f"attempt {a.attempt}",
            begin,
            _ending(a),
            shown=chosen is None or chosen == (a.run, a.attempt),
        )
        for a, begin in zip(attempts, begins, strict=True)
    ]
    if begins[0] > 0:
        parts.insert(0, LogPart(EARLIER_OUTPUT, 0, "", shown=choice is None))
    return parts


def _chosen(
    attempts: Sequence[AttemptRecord], choice: AttemptChoice | None
) -> tuple[int, int] | None:
    """(run, attempt) to show alone; (-1, -1) when the instance has no such attempt."""
    if choice is None:
        return None
    runs = [a.run for a in attempts if a.attempt == choice.attempt]
    if choice.run is not None:
        runs = [run for run in runs if run == choice.run]
    return (max(runs), choice.attempt) if runs else (-1, -1)


def _ending(attempt: AttemptRecord) -> str | None:
    """ "Failed (Timeout, exit code 143)"; None while it runs."""
    if not attempt.state.terminal:
        return None
    why = [attempt.error_code] if attempt.error_code else []
    if attempt.exit_code is not None:
        why.append(f"exit code {attempt.exit_code}")
    return f"{attempt.state}" + (f" ({', '.join(why)})" if why else "")


@dataclass
class _Source:
    """How far one log file was printed: bytes read, an unfinished line, parts done."""

    offset: int = 0
    partial: bytes = b""
    opened: int = -1
    closed: int = -1


@dataclass
class LogPrinter:
    """Prints complete lines as `<task>.<n> | line`, each attempt between two lines of its
    own, remembering how far each file was read."""

    out: TextIO
    #: Escape what the program wrote (`terminal_text.safe_line`): on a terminal, its
    #: escape sequences must not act. Written to a pipe or a file, the lines stay as they are.
    escape: bool = False
    _sources: dict[Path, _Source] = field(default_factory=dict)
    #: Program lines printed so far, so that "nothing at all" can be said, not left silent.
    printed: int = 0

    def drain(
        self,
        prefix: str,
        path: Path,
        attempts: Sequence[AttemptRecord],
        stream: str,
        *,
        choice: AttemptChoice | None = None,
        final: bool = False,
    ) -> None:
        """Print what the file gained. `attempts` must be read before the file is: an
        attempt recorded ended has then all its output in it. With `final`, an attempt
        still running gets its unterminated last line printed too."""
        source = self._sources.setdefault(path, _Source())
        try:
            with path.open("rb") as handle:
                handle.seek(source.offset)
                data = handle.read()
        except FileNotFoundError:
            data = b""
        end = source.offset + len(data)
        if end == 0:  # no output yet: no attempt to tell apart from another
            return
        parts = log_parts(attempts, stream, end, choice)
        for index, part in enumerate(parts):
            if index <= source.closed:
                continue
            if index > source.opened:
                source.opened = index
                if part.shown and part.title:
                    self.out.write(f"{prefix} ---- {part.title} ----\n")
            stop = parts[index + 1].begin if index + 1 < len(parts) else end
            if part.shown and stop > source.offset:
                self._lines(prefix, source, data[: stop - source.offset])
            data = data[max(0, stop - source.offset) :]
            source.offset = max(source.offset, stop)
            if index + 1 == len(parts) and part.ending is None:  # still running
                if final:
                    self._flush(prefix, source)
                break
            self._flush(prefix, source)
            source.closed = index
            if part.shown and part.ending:
                self.out.write(f"{prefix} ---- {part.title} ended {part.ending} ----\n")
        self.out.flush()

    def _lines(self, prefix: str, source: _Source, data: bytes) -> None:
        lines = (source.partial + data).split(b"\n")
        source.partial = lines.pop()
        for line in lines:
            self._write(prefix, line)

    def _flush(self, prefix: str, source: _Source) -> None:
        if source.partial:
            self._write(prefix, source.partial)
            source.partial = b""

    def _write(self, prefix: str, line: bytes) -> None:
        text = safe_line(line) if self.escape else line.decode("utf-8", errors="replace")
        self.out.write(f"{prefix} | {text}\n")
        self.printed += 1


def print_logs(
    printer: LogPrinter,
    state_dir: Path,
    instances: Callable[[], Iterable[InstanceRecord]],
    attempts: Callable[[InstanceRecord], Sequence[AttemptRecord]],
    stream: str,
    *,
    choice: AttemptChoice | None = None,
    follow: bool = False,
    ended: Callable[[], bool] = lambda: True,
) -> None:
    """Print the logs of `instances()`; with `follow`, keep printing until `ended()`."""
    while True:
        done = not follow or ended()
        for instance in instances():
            printer.drain(
                f"{instance.task_name}.{instance.instance_id}",
                log_file(state_dir, instance, stream),
                attempts(instance),
                stream,
                choice=choice,
                final=done,
            )
        if done:
            return
        time.sleep(FOLLOW_POLL)
