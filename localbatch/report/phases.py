"""Where an attempt's time went, from what the engine recorded of it: the timeline's bars.

Every span is bounded by two recorded moments, none is guessed:

- waiting for upstream tasks: from the start of the run (its first launch) until the
  instance was ready (the first attempt of a task that has upstream tasks);
- waiting to retry: from the end of the failed attempt until the retry was ready;
- waiting for capacity: from when the scheduler held it back (`capacity_wait_start`) until
  it launched it (`launch_time`), with the scheduler's reason;
- preparing: from the launch until the program started (package, image, storage); for an
  attempt whose program never started (no runtime reference), until its end;
- running: from the program's start until its end.

An instance is ready when the scheduler held it back or launched it, whichever came first.
An attempt recorded before localbatch kept launch times (store upgrade 4) shows its run
alone: its waits and its preparation cannot be told apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from localbatch.states import State
from localbatch.store.records import AttemptRecord


class Phase(StrEnum):
    UPSTREAM = "WaitingForUpstream"
    RETRY = "WaitingToRetry"
    CAPACITY = "WaitingForCapacity"
    PREPARING = "Preparing"
    RUNNING = "Running"


#: How each phase is said in the report's words.
PHASE_WORDS = {
    Phase.UPSTREAM: "waiting for upstream tasks",
    Phase.RETRY: "waiting to retry",
    Phase.CAPACITY: "waiting for capacity",
    Phase.PREPARING: "preparing",
    Phase.RUNNING: "running",
}


@dataclass(frozen=True)
class Span:
    phase: Phase
    start: float
    #: None: it had not ended when the report was made.
    end: float | None
    #: Why: the capacity it waited for, the upstream tasks it waited for.
    reason: str = ""

    def seconds(self, now: float) -> float:
        return max(0.0, (self.end if self.end is not None else now) - self.start)


def program_started(attempt: AttemptRecord) -> bool:
    """Whether the attempt's program started: the runtime gave it a reference (container,
    pid) as it started it, or it is running now."""
    return bool(attempt.ref) or attempt.state == State.RUNNING


def attempt_spans(
    attempt: AttemptRecord,
    previous: AttemptRecord | None,
    run_began: float | None,
    upstream: tuple[str, ...],
) -> tuple[Span, ...]:
    """The spans before and of one attempt, in order. `previous` is the attempt before it
    in the same run (None for the first); `run_began` when the run's first attempt was
    launched."""
    launched = attempt.launch_time
    if launched is None:  # recorded before launch times were
        if attempt.start_time is None:
            return ()
        return (Span(Phase.RUNNING, attempt.start_time, attempt.end_time),)
    waited = attempt.capacity_wait_start
    ready = waited if waited is not None else launched
    spans: list[Span] = []
    if previous is None:
        if upstream and run_began is not None and ready > run_began:
            spans.append(Span(Phase.UPSTREAM, run_began, ready, ", ".join(upstream)))
    elif previous.end_time is not None and ready > previous.end_time:
        spans.append(Span(Phase.RETRY, previous.end_time, ready))
    if waited is not None:
        spans.append(Span(Phase.CAPACITY, waited, launched, attempt.capacity_wait_reason))
    if program_started(attempt) and attempt.start_time is not None:
        spans.append(Span(Phase.PREPARING, launched, attempt.start_time))
        spans.append(Span(Phase.RUNNING, attempt.start_time, attempt.end_time))
    else:
        spans.append(Span(Phase.PREPARING, launched, attempt.end_time))
    return tuple(spans)


def run_beginnings(attempts: list[AttemptRecord]) -> dict[int, float]:
    """Per run of the job: when its first attempt was launched (runs with launch times)."""
    began: dict[int, float] = {}
    for attempt in attempts:
        launched = attempt.launch_time
        if launched is not None:
            began[attempt.run] = min(began.get(attempt.run, launched), launched)
    return began
