"""Listing and paging: NextMarker is "" on the last page and every item appears once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from localbatch.events import Event
from localbatch.spec.model import Job
from localbatch.states import State
from localbatch.store import Store

JobFactory = Callable[..., Job]


def _all_job_ids(store: Store, page_size: int, **filters: object) -> list[str]:
    ids: list[str] = []
    marker = ""
    while True:
        page = store.list_jobs(marker=marker, max_items=page_size, **filters)  # type: ignore[arg-type]
        ids.extend(job.id for job in page.items)
        if not page.next_marker:
            return ids
        marker = page.next_marker


def test_jobs_page_newest_first(store: Store, make_job: JobFactory) -> None:
    for n in range(7):
        store.create_job(f"job-{n}", make_job(), created=float(n))
    assert _all_job_ids(store, 3) == [f"job-{n}" for n in reversed(range(7))]
    assert _all_job_ids(store, 7) == [f"job-{n}" for n in reversed(range(7))]
    assert _all_job_ids(store, 3, oldest_first=True) == [f"job-{n}" for n in range(7)]
    last = store.list_jobs(max_items=100)
    assert last.next_marker == "" and len(last.items) == 7


def test_jobs_filter_by_state_and_cluster(store: Store, make_job: JobFactory) -> None:
    for n in range(4):
        store.create_job(f"job-{n}", make_job(), created=float(n))
    store.on_event(Event("OnJobRunning", "job-2", State.RUNNING, 5.0, "Job"))
    running = store.list_jobs(states=[State.RUNNING])
    assert [job.id for job in running.items] == ["job-2"]
    both = store.list_jobs(states=[State.RUNNING, State.WAITING])
    assert len(both.items) == 4
    assert len(store.list_jobs(cluster_id="cls-1").items) == 4
    assert store.list_jobs(cluster_id="cls-").items == ()
    assert [job.id for job in store.unfinished_jobs()] == [f"job-{n}" for n in range(4)]


def test_bad_marker_is_a_value_error(store: Store, make_job: JobFactory) -> None:
    store.create_job("job-1", make_job(), created=1.0)
    with pytest.raises(ValueError):
        store.list_jobs(marker="nope")
    with pytest.raises(ValueError):
        store.list_tasks("job-1", marker="nope")
    with pytest.raises(ValueError):
        store.list_instances("job-1", "split", marker="x")


def test_tasks_and_instances_page(store: Store, make_job: JobFactory) -> None:
    store.create_job("job-1", make_job(instances=5), created=1.0)
    first = store.list_tasks("job-1", max_items=1)
    assert [t.name for t in first.items] == ["split"] and first.next_marker == "merge"
    second = store.list_tasks("job-1", marker=first.next_marker, max_items=1)
    assert [t.name for t in second.items] == ["merge"] and second.next_marker == ""

    seen: list[int] = []
    marker = ""
    while True:
        page = store.list_instances("job-1", "split", marker=marker, max_items=2)
        seen.extend(i.instance_id for i in page.items)
        if not page.next_marker:
            break
        marker = page.next_marker
    assert seen == [0, 1, 2, 3, 4]
    every = store.list_instances("job-1", max_items=None)
    assert [(i.task_name, i.instance_id) for i in every.items][:2] == [("split", 0), ("split", 1)]
    assert len(every.items) == 10 and every.next_marker == ""


def test_missing_things_are_none(store: Store) -> None:
    assert store.get_job("job-x") is None
    assert store.job_body("job-x") is None
    assert store.get_task("job-x", "t") is None
    assert store.get_instance("job-x", "t", 0) is None
    assert store.list_tasks("job-x").items == ()
