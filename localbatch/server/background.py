"""Run an aiohttp application on its own event loop in a thread.

`localbatch serve` runs its API (and the OSS endpoint) this way while the main thread waits
for a signal; tests and the benchmark start real servers on 127.0.0.1 the same way.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

from aiohttp import web

#: How long a stopping server lets requests in flight finish.
SHUTDOWN_GRACE_SECONDS = 5.0


class ServerThread:
    """One aiohttp app served on host:port (port 0: any free port) from a daemon thread."""

    def __init__(
        self,
        app: web.Application,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        auto_decompress: bool = True,
    ) -> None:
        """`auto_decompress=False`: request bodies reach the app as sent (a server that
        refuses Content-Encoding then never inflates anything)."""
        self.app = app
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(
            app,
            access_log=None,
            shutdown_timeout=SHUTDOWN_GRACE_SECONDS,
            auto_decompress=auto_decompress,
        )
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> int:
        """Listen (raising OSError when the address is taken) and answer the bound port."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        try:
            self.port = future.result(timeout=30)
        except BaseException:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            raise
        return self.port

    async def _start(self) -> int:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        return int(server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        future: Future[None] = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        try:
            future.result(timeout=SHUTDOWN_GRACE_SECONDS + 10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
