"""`localbatch serve` as a real child process, for tests that kill it or talk to it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, ClassVar

from localbatch.server.client import ApiClient

READY_TIMEOUT = 60.0
#: Seconds between two looks at state another process changes.
POLL = 0.1


def eventually(
    check: Callable[[], bool], timeout: float = 60.0, failure: Callable[[], str] = lambda: ""
) -> None:
    """Another process changes the store: look until it has (there is nothing to await).

    `failure` says what the other process did, shown when the deadline passes.
    """
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s\n{failure()}"
        time.sleep(POLL)


class ServeProcess:
    """Starts `localbatch serve --port 0` on a state dir; knows its URL once it is ready."""

    #: Every server started, so a test that fails midway leaves none behind (`kill_leftovers`).
    started: ClassVar[list[ServeProcess]] = []

    def __init__(
        self,
        state_dir: Path,
        *,
        runtime: str = "fake",
        env: dict[str, str] | None = None,
        options: tuple[str, ...] = (),
    ) -> None:
        self.state_dir = state_dir
        self.lines: list[str] = []
        self._ready = threading.Event()
        self.url = ""
        command = [
            sys.executable,
            "-m",
            "localbatch",
            "serve",
            "--port",
            "0",
            "--oss-port",
            "0",
            "--runtime",
            runtime,
            "--state-dir",
            str(state_dir),
            "--oss-root",
            str(state_dir.parent / "oss"),
            *options,
        ]
        full_env = {**os.environ, "LOCALBATCH_CONFIG": str(state_dir.parent / "none.toml")}
        full_env.update(env or {})
        self.process = subprocess.Popen(
            command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=full_env
        )
        ServeProcess.started.append(self)
        assert self.process.stderr is not None
        threading.Thread(target=self._read, args=(self.process.stderr,), daemon=True).start()
        if not self._ready.wait(READY_TIMEOUT) or not self.url:
            self.kill()
            raise RuntimeError("serve did not start:\n" + "".join(self.lines))

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line)
            found = re.search(r"BatchCompute API: (http://\S+)", line)
            if found:
                self.url = found.group(1)
            if line.startswith("ready"):
                self._ready.set()
        self._ready.set()

    def output(self) -> str:
        """Everything the server printed on stderr so far."""
        return "".join(self.lines)

    @property
    def client(self) -> ApiClient:
        return ApiClient(self.url)

    def request(self, method: str, target: str, body: Any = None) -> Any:
        return self.client.request(method, target, body)

    def kill(self) -> None:
        """kill -9: no cleanup of any kind."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)


def kill_leftovers() -> None:
    """kill -9 every server a test started and did not stop."""
    while ServeProcess.started:
        server = ServeProcess.started.pop()
        if server.process.poll() is None:
            server.kill()
