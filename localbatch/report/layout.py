"""Where things go in the report's two pictures: the DAG's boxes, and the timeline's scale.

Pure arithmetic on the report model, so the pictures can be tested without a browser.
The DAG runs left to right, one column per level (the tasks that can start once the
columns before them finished); the timeline maps job time to pixels with round ticks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from localbatch.report.model import AttemptView, JobReport, TaskView
from localbatch.report.phases import PHASE_WORDS, Phase

NODE_WIDTH, NODE_HEIGHT = 190, 58
COLUMN_GAP, ROW_GAP, MARGIN = 70, 18, 10
#: Tick spacings the time axis chooses from, in seconds.
NICE_STEPS = (
    0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400,
    21600, 43200, 86400,
)  # fmt: skip
#: Spans shorter than this are left out of the words of where an attempt's time went: on an
#: instant run they would read "preparing 0.00s" (the timeline and the JSON keep them all).
NEGLIGIBLE_SECONDS = 0.01


@dataclass(frozen=True)
class Node:
    task: TaskView
    x: float
    y: float


@dataclass(frozen=True)
class Edge:
    """From the right side of the upstream box to the left side of the downstream one."""

    upstream: str
    downstream: str
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class DagLayout:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: float
    height: float


def dag_layout(report: JobReport) -> DagLayout:
    """One column per level, tasks in name order down each column."""
    columns: dict[int, list[TaskView]] = {}
    for task in report.tasks:
        columns.setdefault(task.level, []).append(task)
    nodes: dict[str, Node] = {}
    for level, tasks in columns.items():
        for row, task in enumerate(tasks):
            x = MARGIN + level * (NODE_WIDTH + COLUMN_GAP)
            y = MARGIN + row * (NODE_HEIGHT + ROW_GAP)
            nodes[task.name] = Node(task, x, y)
    edges = tuple(
        Edge(
            up,
            down,
            nodes[up].x + NODE_WIDTH,
            nodes[up].y + NODE_HEIGHT / 2,
            nodes[down].x,
            nodes[down].y + NODE_HEIGHT / 2,
        )
        for up, downs in report.dependencies.items()
        for down in downs
        if up in nodes and down in nodes
    )
    tallest = max((len(tasks) for tasks in columns.values()), default=0)
    return DagLayout(
        nodes=tuple(nodes.values()),
        edges=edges,
        width=2 * MARGIN + len(columns) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP,
        height=2 * MARGIN + tallest * (NODE_HEIGHT + ROW_GAP) - ROW_GAP,
    )


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class TimeScale:
    """Seconds since `origin` -> pixels across `width`."""

    origin: float
    span: float
    width: float

    def x(self, moment: float) -> float:
        return round((moment - self.origin) / self.span * self.width, 1)

    def ticks(self, target: int = 8) -> tuple[Tick, ...]:
        step = tick_step(self.span, target)
        count = int(self.span / step + 1e-9)
        return tuple(
            Tick(self.x(self.origin + i * step), clock(i * step)) for i in range(count + 1)
        )


def time_scale(moments: Iterable[float | None], width: float) -> TimeScale:
    """A scale over every known moment (at least a tenth of a second wide)."""
    known = [m for m in moments if m is not None]
    if not known:
        return TimeScale(0.0, 1.0, width)
    origin = min(known)
    return TimeScale(origin, max(max(known) - origin, 0.1), width)


def tick_step(span: float, target: int = 8) -> float:
    """The smallest round step giving at most `target` intervals over `span`."""
    for step in NICE_STEPS:
        if span / step <= target:
            return step
    return float(math.ceil(span / target / 86400) * 86400)


def clock(seconds: float) -> str:
    """A time axis label: "0s", "1.5s", "2m", "1h05m"."""
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m" + (f"{secs:02d}s" if secs else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def duration_label(seconds: float | None) -> str:
    """A duration as a table shows it: "-", "0.04s", "12.3s", "2m05s"."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    return clock(seconds)


def job_moments(report: JobReport) -> Sequence[float | None]:
    """Every moment the timeline must hold: the job's start and end, each attempt's and
    those of the waits and the preparation before it."""
    moments: list[float | None] = [report.start_time, report.end_time]
    for task in report.tasks:
        for inst in task.instances:
            for attempt in inst.attempts:
                moments += [attempt.start_time, attempt.end_time]
                moments += [moment for span in attempt.spans for moment in (span.start, span.end)]
    return moments


def before_it_ran(attempt: AttemptView, now: float) -> str:
    """Where the time before the attempt's program started went: "waiting for capacity
    12.0s, preparing 3.1s" ("" when none is known or all of it was negligible)."""
    return ", ".join(
        f"{PHASE_WORDS[span.phase]} {duration_label(seconds)}"
        for span in attempt.spans
        if span.phase != Phase.RUNNING and (seconds := span.seconds(now)) >= NEGLIGIBLE_SECONDS
    )
