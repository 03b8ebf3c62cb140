"""The report as one self-contained HTML page: the DAG and the timeline as inline SVG,
the tables, the failed instances' last stderr lines; styles inline, no script, nothing
fetched. Jinja2 escapes every value the job brought (names, messages, log lines)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

import jinja2

from localbatch.report.flags import mib
from localbatch.report.layout import (
    NODE_HEIGHT,
    NODE_WIDTH,
    DagLayout,
    TimeScale,
    before_it_ran,
    dag_layout,
    duration_label,
    job_moments,
    time_scale,
)
from localbatch.report.model import AttemptView, InstanceView, JobReport
from localbatch.report.phases import PHASE_WORDS, Phase, Span
from localbatch.usage import ResourceUsage

#: Pixels of the timeline's time axis, and of the label column on its left.
CHART_WIDTH, LABEL_WIDTH = 900, 170
#: Row height of the timeline: shrinks with many instances, so that a thousand fit.
MAX_ROW, MIN_ROW, TALLEST = 18, 5, 2400


@dataclass(frozen=True)
class Segment:
    """One rectangle of a timeline row: an attempt, or a wait before one."""

    x: float
    width: float
    css: str
    title: str


@dataclass(frozen=True)
class Row:
    y: float
    label: str
    segments: tuple[Segment, ...]
    #: The first row of its task: a separator line and the task's name go above it.
    first_of_task: bool


@dataclass(frozen=True)
class Timeline:
    rows: tuple[Row, ...]
    row_height: float
    height: float
    scale: TimeScale
    labelled: bool
    job_start: float | None
    job_end: float | None


def row_height(rows: int) -> float:
    if rows == 0:
        return MAX_ROW
    return max(MIN_ROW, min(MAX_ROW, TALLEST // rows))


#: The timeline's class of each waiting or preparing span (running ones are by state).
SPAN_CSS = {
    Phase.UPSTREAM: "wait-upstream",
    Phase.RETRY: "wait-retry",
    Phase.CAPACITY: "wait-capacity",
    Phase.PREPARING: "preparing",
}


def _attempt_segments(
    name: str, inst: InstanceView, report: JobReport, scale: TimeScale
) -> list[Segment]:
    segments = []
    now = report.generated_time
    for attempt in inst.attempts:
        for span in attempt.spans:
            end = span.end if span.end is not None else now
            width = scale.x(end) - scale.x(span.start)
            if span.phase == Phase.RUNNING:
                css, title = f"state-{attempt.state.value}", _attempt_title(name, attempt)
            else:
                css, title = SPAN_CSS[span.phase], _span_title(name, attempt, span, now)
                if span.phase == Phase.PREPARING and not attempt.program_started:
                    css += f" unstarted-{attempt.state.value}"
            segments.append(Segment(scale.x(span.start), max(width, 1.0), css, title))
    return segments


def _span_title(name: str, attempt: AttemptView, span: Span, now: float) -> str:
    what = PHASE_WORDS[span.phase]
    if span.phase == Phase.UPSTREAM:
        what += f" ({span.reason})"
    elif span.phase == Phase.CAPACITY and span.reason:
        what += f": {span.reason}"
    title = f"{name} attempt {attempt.attempt}: {what} for {duration_label(span.seconds(now))}"
    if span.phase == Phase.PREPARING and not attempt.program_started and attempt.state.terminal:
        ended = attempt.error_code or attempt.state.value
        title += f"; the program never started ({ended})"
    return title


def _attempt_title(name: str, attempt: AttemptView) -> str:
    parts = [f"{name} attempt {attempt.attempt}: {attempt.state.value}"]
    parts.append(f"ran {duration_label(attempt.duration)}")
    if attempt.exit_code is not None:
        parts.append(f"exit {attempt.exit_code}")
    if attempt.error_code:
        parts.append(attempt.error_code)
    return ", ".join(parts)


def timeline(report: JobReport) -> Timeline:
    scale = time_scale(job_moments(report), CHART_WIDTH)
    count = report.instances
    height = row_height(count)
    rows = []
    index = 0
    for task in report.tasks:
        for position, inst in enumerate(task.instances):
            name = f"{task.name}.{inst.instance_id}"
            rows.append(
                Row(
                    y=index * height,
                    label=name,
                    segments=tuple(_attempt_segments(name, inst, report, scale)),
                    first_of_task=position == 0,
                )
            )
            index += 1
    return Timeline(
        rows=tuple(rows),
        row_height=height,
        height=index * height,
        scale=scale,
        labelled=height >= 12,
        job_start=report.start_time,
        job_end=report.end_time,
    )


def share(usage: ResourceUsage | None, type_memory: int | None) -> str:
    if usage is None or usage.peak_memory_bytes is None or not type_memory:
        return ""
    return f"{usage.peak_memory_bytes / type_memory:.0%}"


def local_time(moment: float | None) -> str:
    return "-" if moment is None else datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M:%S")


def offset(moment: float | None, origin: float | None) -> str:
    if moment is None or origin is None:
        return "-"
    return "+" + duration_label(max(0.0, moment - origin))


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("localbatch.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        mib=mib,
        duration=duration_label,
        local_time=local_time,
        offset=offset,
        share=share,
        before_it_ran=before_it_ran,
    )
    return env


def render_html(report: JobReport) -> str:
    """The whole page."""
    layout: DagLayout = dag_layout(report)
    sources = sorted(
        {
            a.usage.source or "not measured"
            for t in report.tasks
            for i in t.instances
            for a in i.attempts
            if a.usage is not None
        }
    )
    notes = sorted(
        {
            a.usage.note
            for t in report.tasks
            for i in t.instances
            for a in i.attempts
            if a.usage is not None and a.usage.note
        }
    )
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            dag=layout,
            node_width=NODE_WIDTH,
            node_height=NODE_HEIGHT,
            timeline=timeline(report),
            chart_width=CHART_WIDTH,
            label_width=LABEL_WIDTH,
            sources=sources,
            notes=notes,
            failed=[
                (task, inst)
                for task in report.tasks
                for inst in task.instances
                if inst.state.value == "Failed"
            ],
        )
    )
