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
from localbatch.server.discovery import ServerInfo, remove_server_info, write_server_info
from localbatch.store import Store

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_OSS_PORT = 8081


@dataclass
class ServiceStack:
    config: Config
    store: Store
    bus: EventBus
    engine: Engine
    service: JobService
    recovery: Recovery
    api: ServerThread
    #: host:port of the OSS endpoint clients upload through ("" when none was started).
    oss_address: str = ""
    #: host:port instances reach OSS at (BATCH_COMPUTE_OSS_HOST).
    instance_oss_address: str = ""
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.api.url

    def close(self) -> None:
        """Stop answering, stop the jobs this process runs, then close everything else."""
        for closer in reversed(self._closers):
            try:
                closer()
            except Exception:
                log.exception("closing %r failed", closer)
        self._closers.clear()


def _oss_endpoints(
    config: Config, runtime: Runtime, host: str, oss_port: int | None
) -> tuple[str, str, list[Callable[[], None]]]:
    """Start the OSS endpoint clients use (and, for containers, one they can reach)."""
    if config.oss.remote:
        address = config.oss.endpoint.split("://", 1)[-1].rstrip("/")
        return "", address, []
    if oss_port is None:
        return "", "", []
    from localbatch.ossendpoint.for_instances import instance_endpoint
    from localbatch.ossendpoint.server import OssEndpoint

    creds = {
        "access_key_id": config.api_access_key_id,
        "access_key_secret": config.api_access_key_secret,
    }
    public = OssEndpoint(config.oss.root, host=host, port=oss_port, **creds)
    public.start()
    closers = [public.stop]
    instance_address = public.address
    if runtime.name == "docker":
        try:
            for_containers = instance_endpoint(runtime.name, config.oss.root, **creds)
        except BaseException:
            public.stop()
            raise
        closers.append(for_containers.stop)
        instance_address = for_containers.address
    return public.address, instance_address, closers


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
    """Open the store, recover orphaned jobs, start the engine and listen.

    Raises OSError when a port is taken. `oss_port=None` starts no OSS endpoint.
    """
    closers: list[Callable[[], None]] = []
    try:
        store = Store.open(config.state_dir)
        closers.append(store.close)
        oss_address, instance_oss, oss_closers = _oss_endpoints(config, runtime, host, oss_port)
        closers.extend(oss_closers)
        bus = EventBus()
        bus.subscribe(store.on_event)
        notifier = Notifier(config.state_dir, store, config.notification_endpoint)
        bus.subscribe(notifier)
        closers.append(notifier.close)
        engine = Engine(config, runtime, bus, max_parallel=max_parallel, oss_host=instance_oss)
        closers.append(engine.shutdown)
        service = JobService(config, store, engine, bus)
        recovery = Recovery(service, runtime)
        recovery.start(sweep_interval)
        closers.append(recovery.close)
        api = ServerThread(make_app(service), host, port)
        api.start()
        closers.append(api.stop)
        info = ServerInfo(url=api.url, runner=service.runner, oss_address=oss_address)
        write_server_info(config.state_dir, info)
        closers.append(lambda: remove_server_info(config.state_dir, info))
    except BaseException:
        for closer in reversed(closers):
            closer()
        raise
    return ServiceStack(
        config,
        store,
        bus,
        engine,
        service,
        recovery,
        api,
        oss_address=oss_address,
        instance_oss_address=instance_oss,
        _closers=closers,
    )
