"""Which jobs a state dir's store left unfinished: what orphan clean-up keeps."""

from __future__ import annotations

from pathlib import Path

from localbatch.events import Event
from localbatch.spec.model import parse_job
from localbatch.states import State
from localbatch.store import DB_NAME, Store
from localbatch.store.unfinished import UnfinishedJobs, unfinished_job_ids
from tests.unit.server.server_helpers import make_body


def _job(store: Store, job_id: str, state: State) -> None:
    store.create_job(job_id, parse_job(make_body()), created=1.0)
    if state != State.WAITING:
        store.on_event(Event(f"OnJob{state.value}", job_id, state, 2.0, "Job"))


def test_waiting_and_running_jobs_are_unfinished(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    for job_id, state in (("w", State.WAITING), ("r", State.RUNNING), ("f", State.FINISHED)):
        _job(store, job_id, state)
    store.close()
    assert unfinished_job_ids(tmp_path) == {"w", "r"}


def test_a_state_dir_without_a_store_is_not_created(tmp_path: Path) -> None:
    assert unfinished_job_ids(tmp_path / "never") == frozenset()
    assert not (tmp_path / "never").exists()


def test_an_unreadable_store_keeps_every_container(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"not a database" * 100)
    keep = UnfinishedJobs(tmp_path / "elsewhere")
    assert keep(str(tmp_path), "any-job")


def test_no_state_dir_label_means_our_own_store(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    _job(store, "r", State.RUNNING)
    store.close()
    keep = UnfinishedJobs(tmp_path)
    assert keep("", "r") and not keep("", "gone")
    assert keep(str(tmp_path), "r") and not keep(str(tmp_path / "other"), "r")
