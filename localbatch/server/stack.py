"""Everything `localbatch serve` runs, wired once: store, event bus, engine, job service, API.

Listeners are subscribed store first, so an event is persisted before anything else (a
notification, AutoRelease) reacts to it. Tests and the benchmark start the same stack.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from localbatch.config import Config
from localbatch.engine.service import Engine
from localbatch.events import EventBus
from localbatch.jobservice import JobService
from localbatch.runtime.base import Runtime
from localbatch.server.app import make_app
from localbatch.server.background import ServerThread
from localbatch.store import Store

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


@dataclass
class ServiceStack:
    config: Config
    store: Store
    bus: EventBus
    engine: Engine
    service: JobService
    api: ServerThread
    #: What else was started (OSS endpoint, notifier) and must be closed, last first.
    extras: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.api.url

    def close(self) -> None:
        """Stop answering, stop the jobs this process runs, then close the store."""
        self.api.stop()
        self.engine.shutdown()
        for extra in reversed(self.extras):
            try:
                extra.close()
            except Exception:
                log.exception("closing %r failed", extra)
        self.store.close()


def start_stack(
    config: Config,
    runtime: Runtime,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    max_parallel: int | None = None,
    oss_host: str = "",
) -> ServiceStack:
    """Open the store, start the engine and listen; raises OSError if the port is taken."""
    store = Store.open(config.state_dir)
    bus = EventBus()
    bus.subscribe(store.on_event)
    engine = Engine(config, runtime, bus, max_parallel=max_parallel, oss_host=oss_host)
    service = JobService(config, store, engine, bus)
    api = ServerThread(make_app(service), host, port)
    try:
        api.start()
    except BaseException:
        engine.shutdown()
        store.close()
        raise
    return ServiceStack(config, store, bus, engine, service, api)
