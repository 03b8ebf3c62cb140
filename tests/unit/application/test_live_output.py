"""Following attempts' output in their log files: from the attempt's own offset, each
stream apart, the rest read when the attempt ends, long lines cut, bytes untouched."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from localbatch.application.live_output import OutputBlock, OutputFollower
from localbatch.events import AttemptSnapshot, Event, EventDetail
from localbatch.states import State


class Collected:
    """A sink that keeps every block, and lets a test wait for a number of lines."""

    def __init__(self) -> None:
        self.blocks: list[OutputBlock] = []
        self._seen = threading.Condition()

    def __call__(self, block: OutputBlock) -> None:
        with self._seen:
            self.blocks.append(block)
            self._seen.notify_all()

    def lines(self, stream: str = "stdout") -> list[bytes]:
        with self._seen:
            return [line for b in self.blocks if b.source.stream == stream for line in b.lines]

    def wait_for(self, count: int, stream: str = "stdout") -> list[bytes]:
        with self._seen:
            self._seen.wait_for(lambda: len(self.lines(stream)) >= count, timeout=10)
        return self.lines(stream)


@pytest.fixture
def sink() -> Collected:
    return Collected()


@pytest.fixture
def follower(sink: Collected) -> Iterator[OutputFollower]:
    follower = OutputFollower(sink, poll=0.01, budget=64, max_line=32).start()
    yield follower
    follower.close()


def _event(
    tmp_path: Path, state: State, attempt: int = 0, offsets: tuple[int, int] = (0, 0)
) -> Event:
    snapshot = AttemptSnapshot(
        attempt, state, 1.0, stdout_offset=offsets[0], stderr_offset=offsets[1]
    )
    detail = EventDetail(
        stdout_path=str(tmp_path / "t.0.stdout"), stderr_path=str(tmp_path / "t.0.stderr")
    )
    return Event(
        f"OnInstance{state.value}", "job-1", state, 1.0, "Instance", "t", 0,
        attempt=attempt, latest_attempt=snapshot, detail=detail,
    )  # fmt: skip


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def test_lines_come_as_written_from_the_attempts_offset(
    tmp_path: Path, sink: Collected, follower: OutputFollower
) -> None:
    out, err = tmp_path / "t.0.stdout", tmp_path / "t.0.stderr"
    _append(out, b"earlier attempt\n")
    follower(_event(tmp_path, State.RUNNING, attempt=1, offsets=(16, 0)))
    _append(out, b"one\ntw")
    assert sink.wait_for(1) == [b"one"]
    _append(out, b"o\n")
    _append(err, b"oops\n")
    assert sink.wait_for(2) == [b"one", b"two"]
    assert sink.wait_for(1, "stderr") == [b"oops"]
    assert {b.source.attempt for b in sink.blocks} == {1}


def test_an_ended_attempt_is_read_to_its_end_before_the_listener_returns(
    tmp_path: Path, sink: Collected, follower: OutputFollower
) -> None:
    follower(_event(tmp_path, State.RUNNING))
    _append(tmp_path / "t.0.stdout", b"last\nno newline")
    follower(_event(tmp_path, State.FAILED))
    assert sink.lines() == [b"last", b"no newline"]
    follower(_event(tmp_path, State.FAILED))  # a later event naming the same attempt
    follower.close()
    assert sink.lines() == [b"last", b"no newline"]


def test_an_attempt_that_never_ran_shows_what_it_wrote_once(
    tmp_path: Path, sink: Collected, follower: OutputFollower
) -> None:
    _append(tmp_path / "t.0.stderr", b"bwrap: execvp nope: not found\n")
    follower(_event(tmp_path, State.FAILED))
    follower(_event(tmp_path, State.FAILED))
    assert sink.lines("stderr") == [b"bwrap: execvp nope: not found"]


def test_a_long_line_is_cut_and_the_rest_of_it_skipped(
    tmp_path: Path, sink: Collected, follower: OutputFollower
) -> None:
    follower(_event(tmp_path, State.RUNNING))
    out = tmp_path / "t.0.stdout"
    for _ in range(50):  # 5,000 bytes without a newline, written in pieces
        _append(out, b"x" * 100)
    _append(out, b"\nafter\n")
    follower(_event(tmp_path, State.FINISHED))
    lines = sink.lines()
    assert lines == [b"x" * 32, b"after"]
    cut = [index for block in sink.blocks for index in block.cut]
    assert cut == [0]


def test_bytes_are_handed_over_untouched_and_nothing_is_lost_in_a_flood(
    tmp_path: Path, sink: Collected, follower: OutputFollower
) -> None:
    follower(_event(tmp_path, State.RUNNING))
    hostile = b"\x1b[2J\x1b]0;title\x07\xff\xfe binary \r\x00"
    lines = [b"%d" % n for n in range(2000)] + [hostile]
    _append(tmp_path / "t.0.stdout", b"\n".join(lines) + b"\n")
    follower(_event(tmp_path, State.FINISHED))
    follower.close()
    assert sink.lines() == lines


def test_long_lines_among_short_ones_and_across_reads(
    tmp_path: Path, sink: Collected, follower: OutputFollower
) -> None:
    follower(_event(tmp_path, State.RUNNING))
    out = tmp_path / "t.0.stdout"
    _append(out, b"short\n" + b"y" * 40 + b"\nmid\n" + b"z" * 20)
    _append(out, b"z" * 20 + b"\nend\n")
    follower(_event(tmp_path, State.FINISHED))
    follower.close()
    assert sink.lines() == [b"short", b"y" * 32, b"mid", b"z" * 32, b"end"]
    flagged = [(b.data.split(b"\n")[i]) for b in sink.blocks for i in b.cut]
    assert flagged == [b"y" * 32, b"z" * 32]
