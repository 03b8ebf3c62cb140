"""Program output while a job runs: the lines each attempt appends to its instance's log
files, handed to a surface as they are written (`localbatch run` prints them).

Both runtimes already write every attempt's stdout and stderr into the instance's files
(`logs/<task>.<n>.stdout|stderr`, where each attempt begins is recorded), so this reads
those files rather than the program: the files stay the one complete record, and nothing
here can slow the program down or lose what it wrote. `OutputFollower` is an event
listener: an instance that starts running is followed from its attempt's offsets; when the
attempt ends, what is left in the files is read to the end (at once, so its lines come
before the line saying how it ended). A thread looks at every followed file every `poll`
seconds and reads at most `budget` bytes of each per look, so one flooding instance
cannot starve the others.

Output is hostile: lines are handed over as the bytes the program wrote (invalid UTF-8,
control sequences and all); a line longer than `max_line` is cut (its start is handed
over, the rest of it skipped), so a 10 MB line without a newline holds no more memory than
that. Escaping for a terminal is the surface's job.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from localbatch.events import Event
from localbatch.states import State

log = logging.getLogger(__name__)

#: Seconds between two looks at the followed files (the display's latency, at most).
POLL_SECONDS = 0.05
#: Bytes read from one file per look: a flood is shown in slices, the others in between.
BUDGET = 1 << 20
#: Bytes of one line handed over; the rest of a longer line is skipped (not lost: the log
#: file has it).
MAX_LINE = 8 << 10
#: Bytes read at once when an attempt ends, before the event that says so goes on.
END_DRAIN_LIMIT = 8 << 20
STREAMS = ("stdout", "stderr")


@dataclass(frozen=True)
class OutputSource:
    """Where lines come from: one stream of one attempt of one instance."""

    task_name: str
    instance_id: int
    attempt: int
    stream: str


@dataclass(frozen=True)
class OutputBlock:
    """Lines one attempt wrote to one stream, in order: `data` holds them joined by
    newlines (no newline after the last), as read, so a flood is handed over without
    being split into lines at all."""

    source: OutputSource
    data: bytes
    #: Indexes of lines longer than the follower's `max_line`: only their start is here.
    cut: frozenset[int] = frozenset()

    @property
    def lines(self) -> list[bytes]:
        return self.data.split(b"\n")


Sink = Callable[[OutputBlock], None]


@dataclass
class _Tail:
    """How far one attempt's stream has been read."""

    source: OutputSource
    path: Path
    offset: int
    ended: bool = False
    partial: bytes = b""
    #: Inside a line already cut: bytes are skipped until its newline.
    skipping: bool = False
    fd: int | None = None
    done: bool = False


@dataclass
class OutputFollower:
    """Follows the output of every attempt that runs and hands it to `sink`, line by line."""

    sink: Sink
    poll: float = POLL_SECONDS
    budget: int = BUDGET
    max_line: int = MAX_LINE
    _tails: dict[tuple[str, int, int, str], _Tail] = field(default_factory=dict)
    #: Streams read to their end: a later event naming their attempt is not followed again.
    _finished: set[tuple[str, int, int, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)
    _closing: bool = False
    _thread: threading.Thread | None = None

    def start(self) -> OutputFollower:
        self._thread = threading.Thread(target=self._run, name="localbatch-output", daemon=True)
        self._thread.start()
        return self

    # -- the listener (engine thread): quick, except for the end of an attempt -------------
    def __call__(self, event: Event) -> None:
        attempt = event.latest_attempt
        if event.category != "Instance" or attempt is None or event.task_name is None:
            return
        assert event.instance_id is not None
        ended = attempt.state.terminal
        if attempt.state != State.RUNNING and not ended:
            return
        with self._lock:
            for stream in STREAMS:
                key = (event.task_name, event.instance_id, attempt.attempt, stream)
                tail = self._tails.get(key)
                if key in self._finished:
                    continue
                if tail is None:
                    tail = self._new_tail(event, attempt.attempt, stream)
                    if tail is None:
                        continue
                    self._tails[key] = tail
                if ended and not tail.ended:
                    tail.ended = True
                    self._pump(tail, END_DRAIN_LIMIT)

    def _new_tail(self, event: Event, attempt: int, stream: str) -> _Tail | None:
        """Follow a stream from where the attempt began in its file (known once it was
        prepared); None when the event does not say where that is."""
        path = event.detail.get(f"{stream}_path")
        latest = event.latest_attempt
        offset = None
        if latest is not None:
            offset = latest.stdout_offset if stream == "stdout" else latest.stderr_offset
        if not path or offset is None:
            return None
        assert event.task_name is not None and event.instance_id is not None
        source = OutputSource(event.task_name, event.instance_id, attempt, stream)
        return _Tail(source, Path(str(path)), offset)

    # -- the reading thread -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            closing = self._closing
            if closing:  # the job is over: what the files hold is all there is
                with self._lock:
                    for tail in self._tails.values():
                        tail.ended = True
            busy = self._pump_all()
            if closing and not busy:
                return
            if not busy:
                self._wake.wait(self.poll)
                self._wake.clear()

    def _pump_all(self) -> bool:
        """One look at every followed file; True when one had more than the budget."""
        busy = False
        with self._lock:
            tails = list(self._tails.values())
        for tail in tails:
            with self._lock:
                if not tail.done:
                    busy |= self._pump(tail, self.budget)
        with self._lock:
            for key in [k for k, t in self._tails.items() if t.done]:
                del self._tails[key]
                self._finished.add(key)
        return busy

    def _pump(self, tail: _Tail, limit: int) -> bool:
        """Read up to `limit` bytes of the tail and hand its complete lines over; once it
        ended and everything was read, its unterminated last line too. True when more is
        left to read. Called with the lock held."""
        data = self._read(tail, limit)
        more = len(data) >= limit
        blocks = [self._lines(tail, data)]
        if tail.ended and not more:
            if tail.partial and not tail.skipping:
                blocks.append(OutputBlock(tail.source, tail.partial))
            tail.partial = b""
            tail.done = True
            if tail.fd is not None:
                os.close(tail.fd)
                tail.fd = None
        for block in blocks:
            if block is None:
                continue
            try:
                self.sink(block)
            except Exception:  # a display that fails must not stop the engine
                log.exception("showing the output of %s failed", tail.source)
        return more

    @staticmethod
    def _read(tail: _Tail, limit: int) -> bytes:
        if tail.fd is None:
            try:
                tail.fd = os.open(tail.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return b""
            except OSError as exc:
                log.warning("cannot read %s: %s", tail.path, exc)
                tail.done = True
                return b""
        data = os.pread(tail.fd, limit, tail.offset)
        tail.offset += len(data)
        return data

    def _lines(self, tail: _Tail, data: bytes) -> OutputBlock | None:
        """The complete lines in `partial` + `data` (None when there is none); a line beyond
        `max_line` is handed over cut, once, and the rest of it skipped up to its newline."""
        end = data.rfind(b"\n")
        if end < 0:
            return self._hold(tail, data)
        complete: bytes | None = data[:end]
        if tail.skipping:  # its first newline ends the line being skipped
            tail.skipping = False
            first = data.find(b"\n")
            complete = data[first + 1 : end] if first < end else None
        else:
            complete = tail.partial + data[:end]
        tail.partial = b""
        block = self._cut_long_lines(tail.source, complete) if complete is not None else None
        held = self._hold(tail, data[end + 1 :])
        if held is None:
            return block
        if block is None:
            return held
        shift = len(block.lines)  # only when a line is held cut: rare
        return OutputBlock(
            tail.source, block.data + b"\n" + held.data, block.cut | {shift + i for i in held.cut}
        )

    def _hold(self, tail: _Tail, data: bytes) -> OutputBlock | None:
        """Keep an unterminated line for later; when it grew beyond `max_line`, hand its
        start over cut and skip the rest of it."""
        if tail.skipping:
            return None
        tail.partial += data
        if len(tail.partial) <= self.max_line:
            return None
        start, tail.partial, tail.skipping = tail.partial[: self.max_line], b"", True
        return OutputBlock(tail.source, start, frozenset({0}))

    def _cut_long_lines(self, source: OutputSource, data: bytes) -> OutputBlock:
        """The block, its lines longer than `max_line` cut. Lines are split only when a
        window of half that size holds no newline: ordinary output is never split."""
        window = max(1, self.max_line // 2)
        suspect = any(
            data.find(b"\n", start, start + window) < 0
            for start in range(0, len(data) - window + 1, window)
        )
        if not suspect:
            return OutputBlock(source, data)
        lines = data.split(b"\n")
        cut = frozenset(i for i, line in enumerate(lines) if len(line) > self.max_line)
        if not cut:
            return OutputBlock(source, data)
        return OutputBlock(source, b"\n".join(line[: self.max_line] for line in lines), cut)

    def close(self) -> None:
        """Hand over everything left (the attempts have ended), then stop the thread."""
        self._closing = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            for tail in self._tails.values():
                if tail.fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(tail.fd)
            self._tails.clear()
