"""Everything `localbatch serve` runs: the local stack of the application layer (store,
listeners, engine, job service, the OSS endpoints), its periodic recovery, and the HTTP API
in front of it. Tests and the benchmark start this same stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from localbatch.application.job_service import JobService
from localbatch.application.recovery import SWEEP_INTERVAL
from localbatch.application.stack import DEFAULT_HOST, LocalService, open_local_service
from localbatch.config import Config
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

if TYPE_CHECKING:
    from localbatch.engine.service import Engine

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
    api: ServerThread

    @property
    def engine(self) -> Engine:
        assert self.local.engine is not None  # a stack is started with a runtime
        return self.local.engine

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


def start_stack(
    config: Config,
    runtime: Runtime,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    oss_port: int | None = DEFAULT_OSS_PORT,
    max_parallel: int | None = None,
    sweep_interval: float = SWEEP_INTERVAL,
    reports_from_anywhere: bool = False,
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
        recovery = local.recovery
        assert recovery is not None
        recovery.start(sweep_interval)
        local.closers.append(recovery.close)
        # The API refuses any Content-Encoding (server/headers.py): nothing is inflated first.
        api = ServerThread(
            make_app(local.service, reports_from_anywhere=reports_from_anywhere),
            host,
            port,
            auto_decompress=False,
        )
        api.start()
        local.closers.append(api.stop)
        info = ServerInfo(url=api.url, runner=local.service.runner, oss_address=local.oss_address)
        write_server_info(config.state_dir, info)
        local.closers.append(lambda: remove_server_info(config.state_dir, info))
    except BaseException:
        local.close()
        raise
    return ServiceStack(local, api)
