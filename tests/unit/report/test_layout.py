"""The pictures' geometry: DAG columns by level, edges between boxes, the time scale; the
words of where an attempt's time went."""

from __future__ import annotations

import pytest

from localbatch.report.layout import (
    COLUMN_GAP,
    MARGIN,
    NODE_HEIGHT,
    NODE_WIDTH,
    ROW_GAP,
    TimeScale,
    before_it_ran,
    clock,
    dag_layout,
    tick_step,
    time_scale,
)
from localbatch.report.model import AttemptView, build_report
from localbatch.report.phases import Phase, Span
from localbatch.states import State

from .conftest import RanJob


def test_dag_columns_are_levels_and_rows_are_names_in_order(ran: RanJob) -> None:
    layout = dag_layout(build_report(ran.config, ran.local.store, ran.job_id))
    where = {node.task.name: (node.x, node.y) for node in layout.nodes}
    column = NODE_WIDTH + COLUMN_GAP
    row = NODE_HEIGHT + ROW_GAP
    assert where == {
        "prepare": (MARGIN, MARGIN),
        "count": (MARGIN + column, MARGIN),
        "summary": (MARGIN + column, MARGIN + row),
        "merge": (MARGIN + 2 * column, MARGIN),
    }
    assert layout.width == 2 * MARGIN + 3 * column - COLUMN_GAP
    assert layout.height == 2 * MARGIN + 2 * row - ROW_GAP
    edges = {(e.upstream, e.downstream): e for e in layout.edges}
    assert set(edges) == {("prepare", "count"), ("prepare", "summary"), ("count", "merge")}
    to_summary = edges[("prepare", "summary")]
    assert (to_summary.x1, to_summary.y1) == (MARGIN + NODE_WIDTH, MARGIN + NODE_HEIGHT / 2)
    assert (to_summary.x2, to_summary.y2) == (MARGIN + column, MARGIN + row + NODE_HEIGHT / 2)


def test_time_scale_maps_the_span_onto_the_width() -> None:
    scale = time_scale([100.0, None, 130.0, 110.0], 900)
    assert (scale.origin, scale.span) == (100.0, 30.0)
    assert scale.x(100.0) == 0 and scale.x(130.0) == 900 and scale.x(115.0) == 450
    ticks = scale.ticks(target=8)
    assert [t.label for t in ticks] == ["0s", "5s", "10s", "15s", "20s", "25s", "30s"]
    assert ticks[1].x == 150


def test_an_empty_or_instant_job_still_has_a_scale() -> None:
    assert time_scale([None], 100) == TimeScale(0.0, 1.0, 100)
    assert time_scale([5.0, 5.0], 100).span == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("span", "step"), [(0.5, 0.1), (7, 1), (30, 5), (100, 15), (3600, 600), (10**6, 172800)]
)
def test_ticks_are_round_steps(span: float, step: float) -> None:
    assert tick_step(span) == step


@pytest.mark.parametrize(
    ("seconds", "label"), [(0, "0s"), (1.5, "1.5s"), (120, "2m"), (125, "2m05s"), (3900, "1h05m")]
)
def test_clock_labels(seconds: float, label: str) -> None:
    assert clock(seconds) == label


def _attempt(*spans: Span) -> AttemptView:
    return AttemptView(
        attempt=0,
        state=State.FINISHED,
        start_time=spans[-1].start,
        end_time=spans[-1].end,
        exit_code=0,
        job_id="job-1",
        task_name="t",
        instance_id=0,
        run=0,
        program_started=True,
        spans=spans,
    )


def test_the_time_before_a_run_leaves_out_what_was_too_short_to_tell() -> None:
    waited = Span(Phase.CAPACITY, 100.0, 102.5, "1 at a time")
    prepared = Span(Phase.PREPARING, 102.5, 102.504)
    ran = Span(Phase.RUNNING, 102.504, 110.0)
    assert before_it_ran(_attempt(waited, prepared, ran), 200.0) == "waiting for capacity 2.5s"
    assert before_it_ran(_attempt(prepared, ran), 200.0) == ""  # not "preparing 0.00s"
    slower = Span(Phase.PREPARING, 102.5, 102.52)
    assert before_it_ran(_attempt(slower, ran), 200.0) == "preparing 0.02s"
