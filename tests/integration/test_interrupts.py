"""Ctrl-C on a real terminal: a command exits 130 with one line; `validate -` gives a hint.

The command runs in a pseudo-terminal (its controlling terminal), so Ctrl-C is the
terminal's own SIGINT to it, as when a user types it.
"""

from __future__ import annotations

import json
import os
import pty
import select
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
HINT = b"reading the job from stdin; end with Ctrl-D"
TIMEOUT = 30.0


class Terminal:
    """`localbatch ARGS` in a pseudo-terminal; collects what it prints."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "LOCALBATCH_CONFIG": os.devnull, "PYTHONPATH": str(REPO)}
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: becomes localbatch
            os.execve(sys.executable, [sys.executable, "-m", "localbatch", *args], env)
        self.output = b""

    def read_until(self, wanted: bytes) -> None:
        while wanted not in self.output:
            ready, _, _ = select.select([self.fd], [], [], TIMEOUT)
            assert ready, f"no {wanted!r} in {self.output!r}"
            self.output += os.read(self.fd, 4096)

    def type(self, data: bytes) -> None:
        os.write(self.fd, data)

    def status(self) -> int:
        """Its exit status, once it ends (the rest of its output read first)."""
        while True:
            ready, _, _ = select.select([self.fd], [], [], TIMEOUT)
            assert ready, f"did not end: {self.output!r}"
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                break
            self.output += chunk
        os.close(self.fd)
        _, wait_status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(wait_status)


@pytest.fixture
def job_text() -> bytes:
    body = json.loads((REPO / "examples" / "sdk" / "job.json").read_text())
    return json.dumps(body, indent=1).encode()  # short lines: a terminal line has a limit


def test_validate_from_a_terminal_hints_and_ctrl_c_exits_130() -> None:
    term = Terminal("validate", "-")
    term.read_until(HINT)
    term.type(b"\x03")  # Ctrl-C
    assert term.status() == 130
    assert b"Aborted!" not in term.output and b"Traceback" not in term.output
    assert b"localbatch: interrupted" in term.output


def test_validate_from_a_terminal_reads_until_ctrl_d(job_text: bytes) -> None:
    term = Terminal("validate", "-")
    term.read_until(HINT)
    term.type(job_text + b"\n\x04")  # Ctrl-D ends the input
    assert term.status() == 0, term.output
