"""A sandbox dies with the process that started it, also when that process is killed just
after the start.

bwrap's `--die-with-parent` gives the sandbox's init (pid 1 inside) a parent-death signal
only once it has forked the program and settles to reap it, and does not check whether its
parent already died (bubblewrap 0.8). A runner killed between the start and that moment
(milliseconds, longer on a loaded host) leaves the sandbox running with nobody to stop it.
So the process runtime's `start` answers only once the init is settled: waiting in the
kernel (`do_wait`) with a child that is no longer bwrap (the program was executed); or it
ended; or a deadline passed (then the start goes on as before, and says so in the log).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

#: How long a start may wait for the sandbox's init to settle.
SETTLE_DEADLINE = 5.0
_POLL = 0.001


def wait_until_tied(init_pid: int, deadline: float = SETTLE_DEADLINE) -> bool:
    """Wait until the sandbox's init will die with bwrap (see above); False at the deadline."""
    end = time.monotonic() + deadline
    try:
        init = psutil.Process(init_pid)
        bwrap = init.exe()
        while time.monotonic() < end:
            if init.status() == psutil.STATUS_ZOMBIE:
                return True
            if _program_started(init, bwrap) and _reaping(init_pid):
                return True
            time.sleep(_POLL)
    except psutil.NoSuchProcess:
        return True  # it ended: nothing is left to outlive its runner
    except psutil.Error as exc:
        log.warning("cannot tell whether sandbox %s is tied to its runner: %s", init_pid, exc)
        return False
    log.warning("sandbox %s did not settle within %g s", init_pid, deadline)
    return False


def _program_started(init: psutil.Process, bwrap: str) -> bool:
    for child in init.children():
        try:
            if child.exe() != bwrap:
                return True
        except psutil.Error:
            continue
    return False


def _reaping(pid: int) -> bool:
    """Whether the process waits for a child in the kernel; True where /proc cannot tell."""
    try:
        where = Path(f"/proc/{pid}/wchan").read_text().strip()
    except OSError:
        return True
    return where in ("", "0") or "wait" in where
