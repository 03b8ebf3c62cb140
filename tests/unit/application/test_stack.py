"""The local stack: its listeners in their order (store, LISTENERS, AutoRelease), closed
with it, and an instances' endpoint that cannot be started said as such."""

from __future__ import annotations

import pytest

import localbatch.application.stack as stack
from localbatch.application.stack import InstanceEndpointUnavailable, open_local_service
from localbatch.config import Config
from localbatch.events import Event
from localbatch.runtime.fake import FakeRuntime
from localbatch.spec.model import parse_job
from localbatch.states import State
from localbatch.store import Store
from tests.unit.server.server_helpers import make_body


class Recorder:
    """A stack listener noting, at each job event, what the store then says of the job."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.seen: list[tuple[str, State | None]] = []
        self.closed = False

    def __call__(self, event: Event) -> None:
        if event.category == "Job":
            record = self.store.get_job(event.job_id)
            self.seen.append((event.name, record.state if record else None))

    def close(self) -> None:
        self.closed = True


def test_a_listener_sees_the_event_stored_before_auto_release_deletes_the_job(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorders: list[Recorder] = []

    def recorder(_: Config, store: Store) -> Recorder:
        recorders.append(Recorder(store))
        return recorders[-1]

    monkeypatch.setattr(stack, "LISTENERS", (*stack.LISTENERS, recorder))
    local = open_local_service(config, FakeRuntime(), oss_port=None)
    try:
        job_id = local.service.record(parse_job(make_body(AutoRelease=True)))
        local.service.submit(job_id)
        assert local.engine is not None and local.engine.wait(job_id, 30) == State.FINISHED
        assert local.store.get_job(job_id) is None  # AutoRelease, after every listener
    finally:
        local.close()
    (seen,) = recorders
    assert seen.seen[-1] == ("OnJobFinished", State.FINISHED)  # stored first
    assert seen.closed
    assert (config.state_dir / "jobs" / job_id / "events.jsonl").is_file()  # notifications


class Nowhere(FakeRuntime):
    """A runtime the registry does not know: nobody can say where its instances are."""

    name = "nowhere"


def test_an_endpoint_for_instances_that_cannot_start_closes_what_was_opened(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[str] = []
    monkeypatch.setattr(Store, "close", lambda self: closed.append("store"))
    with pytest.raises(InstanceEndpointUnavailable, match="unknown runtime 'nowhere'"):
        open_local_service(config, Nowhere(), oss_port=None, instance_oss=True)
    assert closed == ["store"]


def test_without_a_runtime_nothing_runs_and_no_endpoint_starts(config: Config) -> None:
    local = open_local_service(config, None)
    try:
        assert local.engine is None and local.recovery is None
        assert local.oss_address == local.instance_oss_address == ""
    finally:
        local.close()


def test_instances_reach_the_endpoint_the_runtime_declares(config: Config) -> None:
    (config.oss.root).mkdir(parents=True)
    local = open_local_service(config, FakeRuntime(), oss_port=None, instance_oss=True)
    try:
        assert local.instance_oss_address.startswith("127.0.0.1:")
        assert local.oss_address == ""  # no endpoint for clients was asked for
    finally:
        local.close()
