"""`wait_until_tied`: a start answers once the sandbox's init has executed the program and
waits for it (the moment bwrap's init takes its parent-death signal)."""

from __future__ import annotations

import subprocess
import sys

from localbatch.runtime.sandbox_lifetime import wait_until_tied


def test_an_init_waiting_for_its_executed_program_is_tied() -> None:
    # sh stands in for bwrap's init: it forks, the child executes sleep, sh waits for it.
    init = subprocess.Popen(["sh", "-c", "sleep 5; true"])
    try:
        assert wait_until_tied(init.pid, deadline=10)
    finally:
        init.kill()
        init.wait()


def test_an_init_that_has_not_started_the_program_is_not_tied() -> None:
    alone = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        assert not wait_until_tied(alone.pid, deadline=0.2)
    finally:
        alone.kill()
        alone.wait()


def test_an_init_that_ended_leaves_nothing_running() -> None:
    ended = subprocess.Popen(["true"])
    ended.wait()
    assert wait_until_tied(ended.pid, deadline=1)
