"""Everything `localbatch serve` runs, wired once: store, event bus, engine, job service,
notifications, recovery, the OSS endpoint and the API.

Listeners are subscribed store first, then notifications, then the job service's own
(AutoRelease): an event is persisted and announced before a job can disappear. Tests and
the benchmark start this same stack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from localbatch.config import Config
from localbatch.engine.service import Engine
from localbatch.events import EventBus
from localbatch.jobservice import JobService
from localbatch.notify import Notifier
from localbatch.recovery import SWEEP_INTERVAL, Recovery
from localbatch.runtime.base import Runtime
from localbatch.server.app import make_app
from localbatch.server.background import ServerThread
from localbatch.server.discovery import (
    ServerInfo,
    read_server_info,
    remove_server_info,
    write_server_info,
)
from localbatch.store import Store, runner_pid
from localbatch.store.recorder import EventRecorder

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_OSS_PORT = 8081


class ServerRunning(Exception):
    """Another `localbatch serve` serves the state directory: jobs would have two owners."""

    def __init__(self, info: ServerInfo) -> None:
        super().__init__(
            f"another localbatch serve (pid {runner_pid(info.runner)}) serves this state dir"
            f" at {info.url}"
        )
        self.info = info


@dataclass
class ServiceStack:
    """A `LocalService` answering the HTTP API (what `localbatch serve` runs)."""

    local: LocalService
    engine: Engine
    api: ServerThread

    @property
    def url(self) -> str:
        return self.api.url

    @property
    def config(self) -> Config:
        return self.local.config

    @property
    def store(self) -> Store:
        return self.local.store

    @property
    def service(self) -> JobService:
        return self.local.service

    @property
    def oss_address(self) -> str:
        return self.local.oss_address

    def close(self) -> None:
        self.local.close()


def _oss_endpoints(
    config: Config, runtime: Runtime | None, host: str, oss_port: int | None
) -> tuple[str, str, list[Callable[[], None]]]:
    """Start the OSS endpoint clients use (signatures checked when credentials are set)
    and the one instances reach (`instance_endpoint`: where their runtime can reach it).

    Answers (address for clients, address for instances, what stops them).
    """
    if config.oss.remote:
        address = config.oss.endpoint.split("://", 1)[-1].rstrip("/")
        return "", address, []
    if oss_port is None or runtime is None:
        return "", "", []
    from localbatch.ossendpoint.for_instances import instance_endpoint
    from localbatch.ossendpoint.server import OssEndpoint

    public = OssEndpoint(
        config.oss.root,
        host=host,
        port=oss_port,
        access_key_id=config.api_access_key_id,
        access_key_secret=config.api_access_key_secret,
    )
    public.start()
    try:
        for_instances = instance_endpoint(
            runtime.name, config.oss.root, access_key_id=config.api_access_key_id
        )
    except BaseException:
        public.stop()
        raise
    return public.address, for_instances.address, [public.stop, for_instances.stop]


@dataclass
class LocalService:
    """The job service of one process without the HTTP API (what `localbatch start` uses)."""

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

    def close(self) -> None:
        """Stop the jobs this process runs, then close everything else, last opened first."""
        _close_all(self.closers)


def _close_all(closers: list[Callable[[], None]]) -> None:
    """Call each closer, last opened first; one that fails is logged, the others still run."""
    for closer in reversed(closers):
        try:
            closer()
        except Exception:
            log.exception("closing %r failed", closer)
    closers.clear()


def open_local_service(
    config: Config,
    runtime: Runtime | None,
    *,
    oss_host: str = DEFAULT_HOST,
    oss_port: int | None = 0,
    max_parallel: int | None = None,
) -> LocalService:
    """Store, notifications, engine and job service; `oss_port=None` starts no OSS endpoint.

    Without a runtime there is no engine: jobs can be read, stopped, deleted and
    re-prioritised, not run.
    """
    closers: list[Callable[[], None]] = []
    try:
        store = Store.open(config.state_dir)
        closers.append(store.close)
        oss_address, instance_oss, oss_closers = _oss_endpoints(config, runtime, oss_host, oss_port)
        closers.extend(oss_closers)
        bus = EventBus()
        recorder = EventRecorder(store)
        bus.subscribe(recorder)
        closers.append(recorder.close)
        notifier = Notifier(config.state_dir, store, config.notification_endpoint)
        bus.subscribe(notifier)
        closers.append(notifier.close)
        engine = None
        if runtime is not None:
            engine = Engine(config, runtime, bus, max_parallel=max_parallel, oss_host=instance_oss)
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
        instance_oss,
        closers,
    )


def start_stack(
    config: Config,
    runtime: Runtime,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    oss_port: int | None = DEFAULT_OSS_PORT,
    max_parallel: int | None = None,
    sweep_interval: float = SWEEP_INTERVAL,
) -> ServiceStack:
    """Recover orphaned jobs, then answer the API on host:port (OSError if taken).

    Raises ServerRunning when another live server already serves this state directory.
    """
    running = read_server_info(config.state_dir)
    if running is not None:
        raise ServerRunning(running)
    local = open_local_service(
        config, runtime, oss_host=host, oss_port=oss_port, max_parallel=max_parallel
    )
    try:
        recovery, engine = local.recovery, local.engine
        assert recovery is not None and engine is not None
        recovery.start(sweep_interval)
        local.closers.append(recovery.close)
        # The API refuses any Content-Encoding (server/headers.py): nothing is inflated first.
        api = ServerThread(make_app(local.service), host, port, auto_decompress=False)
        api.start()
        local.closers.append(api.stop)
        info = ServerInfo(url=api.url, runner=local.service.runner, oss_address=local.oss_address)
        write_server_info(config.state_dir, info)
        local.closers.append(lambda: remove_server_info(config.state_dir, info))
    except BaseException:
        local.close()
        raise
    return ServiceStack(local, engine, api)
