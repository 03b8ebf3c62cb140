"""The local OSS endpoint as an object: serves the OSS root in a background thread.

It owns its asyncio loop and worker threads, so the engine, the CLI and tests can start it
next to anything else and stop it cleanly. With no credentials it accepts every request
and logs so once; with credentials it verifies OSS v1 signatures.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from pathlib import Path
from types import TracebackType

from aiohttp import web

from localbatch.ossendpoint.app import OssApplication
from localbatch.ossendpoint.context import DEFAULT_LOCATION, EndpointState
from localbatch.ossendpoint.multipart import UploadStore
from localbatch.ossendpoint.signature import Verifier
from localbatch.ossendpoint.store import ObjectStore

log = logging.getLogger("localbatch.ossendpoint")

#: Worker threads for file-system work (writes, fsync, reads, listings).
WORKER_THREADS = 16
#: Bytes buffered per connection before aiohttp pauses reading the socket.
READ_BUFFER = 1 << 20
#: Seconds `stop` lets requests in flight finish before they are cancelled (and their
#: partial uploads discarded).
STOP_GRACE = 5.0
#: Seconds `start` waits for the socket to listen.
START_TIMEOUT = 30.0


class OssEndpoint:
    """An OSS-compatible HTTP endpoint over `root` (`oss://bucket/key` = `root/bucket/key`)."""

    def __init__(
        self,
        root: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        access_key_id: str = "",
        access_key_secret: str = "",
        location: str = DEFAULT_LOCATION,
        announce_open: bool = True,
    ) -> None:
        self.root = Path(root)
        #: Whether start() warns that no credentials are checked; off for callers that
        #: say so in their own words (the instance-facing endpoint).
        self.announce_open = announce_open
        self.host = host
        self.port = port
        self.verifier = Verifier(access_key_id, access_key_secret)
        self.location = location
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.ServerRunner | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def address(self) -> str:
        """`host:port`, the form of BATCH_COMPUTE_OSS_HOST and OSS_ENDPOINT."""
        return self.url.removeprefix("http://")

    @property
    def verifies_signatures(self) -> bool:
        return self.verifier.enabled

    def start(self) -> None:
        """Listen, then return; the endpoint serves from its own thread until `stop`."""
        if self._thread is not None:
            raise RuntimeError("the OSS endpoint is already started")
        self.root.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._serve, name="oss-endpoint", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError(
                f"the OSS endpoint did not start listening within {START_TIMEOUT:.0f}s"
            )
        if self._failure is not None:
            self._thread.join()
            self._thread = None
            raise self._failure
        if self.announce_open and not self.verifier.enabled:
            log.warning(
                "OSS endpoint %s accepts any request: no credentials are configured", self.url
            )

    def stop(self) -> None:
        """Stop listening, finish, and join the thread; safe to call twice."""
        thread, loop, stopped = self._thread, self._loop, self._stopped
        if thread is None:
            return
        if loop is not None and stopped is not None:
            loop.call_soon_threadsafe(stopped.set)
        thread.join()
        self._thread = None

    def __enter__(self) -> OssEndpoint:
        """Start unless already started (instance_endpoint hands out started endpoints)."""
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        executor = concurrent.futures.ThreadPoolExecutor(
            WORKER_THREADS, thread_name_prefix="oss-io"
        )
        loop.set_default_executor(executor)
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start(); never lost in the thread
            self._failure = exc
            self._ready.set()
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _main(self) -> None:
        store = ObjectStore(self.root)
        state = EndpointState(
            store=store,
            uploads=UploadStore(store.meta_dir),
            location=self.location,
        )
        store.sweep()
        # Bodies are stored as sent: `Content-Encoding: gzip` describes the object (served
        # back with it), as on OSS; it is not for this server to decompress.
        server = web.Server(
            OssApplication(state, self.verifier),
            access_log=None,
            read_bufsize=READ_BUFFER,
            auto_decompress=False,
        )
        runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=STOP_GRACE)
        await runner.setup()
        self._runner = runner
        self._stopped = asyncio.Event()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            sockets = runner.addresses
            self.port = int(sockets[0][1])
            state.public_host = self.address
            self._ready.set()
            await self._stopped.wait()
        finally:
            await runner.cleanup()
