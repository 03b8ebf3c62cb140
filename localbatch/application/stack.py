"""The local stack of one process, opened in one place for `run`, `start` and `serve`: the
store, the event bus and its listeners, the OSS endpoints, the engine on a runtime, the job
service and recovery.

Listeners are subscribed store first (through an `EventRecorder`, which keeps the events a
full store refuses until it can write them), then each of `LISTENERS` (notifications, the run
report written when a job ends), then the job service's own (AutoRelease): an event is
persisted and announced before a job can disappear. A new side effect of events is one
more entry of `LISTENERS`: every surface gets it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from localbatch.application.job_service import JobService
from localbatch.application.recovery import Recovery
from localbatch.config import Config
from localbatch.engine.service import Engine
from localbatch.events import Event, EventBus
from localbatch.events.notify import Notifier
from localbatch.report.writer import ReportWriter
from localbatch.runtime.base import Runtime, RuntimeUnavailable
from localbatch.runtime.registry import instance_host
from localbatch.store import Store
from localbatch.store.recorder import EventRecorder

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"


class StackListener(Protocol):
    """An event listener the stack owns: called for every event, closed with the stack."""

    def __call__(self, event: Event) -> None: ...

    def close(self) -> None: ...


#: Makes one listener for a stack, from its config and its (already subscribed) store.
ListenerFactory = Callable[[Config, Store], StackListener]


def _notifier(config: Config, store: Store) -> StackListener:
    return Notifier(config.state_dir, store, config.notification_endpoint)


#: The listeners every stack subscribes, in this order, after the store and before
#: AutoRelease.
LISTENERS: tuple[ListenerFactory, ...] = (_notifier, ReportWriter)


class InstanceEndpointUnavailable(Exception):
    """The OSS endpoint for the instances cannot be started where their runtime reaches it."""


def _close_all(closers: list[Callable[[], None]]) -> None:
    """Call each closer, last opened first; one that fails is logged, the others still run."""
    for closer in reversed(closers):
        try:
            closer()
        except Exception:
            log.exception("closing %r failed", closer)
    closers.clear()


def _oss_endpoints(
    config: Config,
    runtime: Runtime | None,
    host: str,
    oss_port: int | None,
    for_instances: bool,
    closers: list[Callable[[], None]],
) -> tuple[str, str]:
    """Start the OSS endpoint clients use on `oss_port` (signatures checked when
    credentials are set) and, with `for_instances`, the one instances reach: where their
    runtime says they reach this host (`instance_endpoint`). Neither with a remote OSS.

    Answers (address for clients, address for instances); `closers` gets what stops them.
    """
    if config.oss.remote:
        return "", config.oss.endpoint.split("://", 1)[-1].rstrip("/")
    if runtime is None:
        return "", ""
    from localbatch.ossendpoint.for_instances import instance_endpoint
    from localbatch.ossendpoint.server import OssEndpoint

    public_address = ""
    if oss_port is not None:
        public = OssEndpoint(
            config.oss.root,
            host=host,
            port=oss_port,
            access_key_id=config.api_access_key_id,
            access_key_secret=config.api_access_key_secret,
        )
        public.start()
        closers.append(public.stop)
        public_address = public.address
    if not for_instances:
        return public_address, ""
    try:
        endpoint = instance_endpoint(
            instance_host(runtime.name), config.oss.root, access_key_id=config.api_access_key_id
        )
    except (RuntimeUnavailable, OSError) as exc:
        raise InstanceEndpointUnavailable(str(exc)) from exc
    closers.append(endpoint.stop)
    return public_address, endpoint.address


@dataclass
class LocalService:
    """The job service of one process (what `run` and `start` use; `serve` adds the API)."""

    config: Config
    store: Store
    bus: EventBus
    #: None for a process that only reads and changes records (no runtime).
    engine: Engine | None
    service: JobService
    recovery: Recovery | None
    oss_address: str = ""
    instance_oss_address: str = ""
    closers: list[Callable[[], None]] = field(default_factory=list)
    #: Writes the events into the store, keeping those it refuses (full disk) for later.
    recorder: EventRecorder | None = None

    def close(self) -> None:
        """Stop the jobs this process runs, then close everything else, last opened first."""
        _close_all(self.closers)


def open_local_service(
    config: Config,
    runtime: Runtime | None,
    *,
    oss_host: str = DEFAULT_HOST,
    oss_port: int | None = 0,
    instance_oss: bool | None = None,
    max_parallel: int | None = None,
) -> LocalService:
    """Store, listeners, engine and job service.

    `oss_port=None` starts no OSS endpoint for clients; the one for the instances is
    started when `instance_oss` says so, by default when one for clients is
    (InstanceEndpointUnavailable when it cannot be). Without a runtime there is no engine
    and no endpoint: jobs can be read, stopped, deleted and re-prioritised, not run.
    """
    closers: list[Callable[[], None]] = []
    try:
        store = Store.open(config.state_dir)
        closers.append(store.close)
        for_instances = oss_port is not None if instance_oss is None else instance_oss
        oss_address, instance_address = _oss_endpoints(
            config, runtime, oss_host, oss_port, for_instances, closers
        )
        bus = EventBus()
        recorder = EventRecorder(store)
        bus.subscribe(recorder)
        closers.append(recorder.close)
        for make_listener in LISTENERS:
            listener = make_listener(config, store)
            bus.subscribe(listener)
            closers.append(listener.close)
        engine = None
        if runtime is not None:
            engine = Engine(
                config, runtime, bus, max_parallel=max_parallel, oss_host=instance_address
            )
            closers.append(engine.shutdown)
        service = JobService(config, store, engine, bus)
    except BaseException:
        _close_all(closers)
        raise
    return LocalService(
        config,
        store,
        bus,
        engine,
        service,
        Recovery(service, runtime) if runtime is not None else None,
        oss_address,
        instance_address,
        closers,
        recorder,
    )
