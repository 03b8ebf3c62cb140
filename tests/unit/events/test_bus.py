"""The event bus isolates listener failures and keeps subscription order."""

from __future__ import annotations

from localbatch.events import ALL_EVENTS, Event, EventBus, event_name
from localbatch.states import State


def _event() -> Event:
    return Event(name="OnJobRunning", job_id="job-1", state=State.RUNNING, time=1.0, category="Job")


def test_failing_listener_does_not_stop_others() -> None:
    bus = EventBus()
    seen: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    bus.subscribe(lambda e: seen.append("first:" + e.name))
    bus.subscribe(broken)
    bus.subscribe(lambda e: seen.append("last:" + e.name))
    bus.publish(_event())
    assert seen == ["first:OnJobRunning", "last:OnJobRunning"]


def test_unsubscribe() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    bus.unsubscribe(seen.append)
    bus.publish(_event())
    assert seen == []


def test_event_names_match_the_notification_catalogue() -> None:
    for category in ("Job", "Task", "Instance"):
        for state in State:
            assert event_name(category, state) in ALL_EVENTS
    assert len(ALL_EVENTS) == 16
