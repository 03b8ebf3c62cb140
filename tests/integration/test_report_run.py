"""`localbatch run` ends by printing its report's path; the report of a job with a retry and
a failure, on each real runtime, opened in headless chromium: both pictures, every task,
what each attempt used, the failure's stderr shown as text, no console error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from localbatch.report.writer import report_path
from tests.browser import console_errors, open_page

from .test_run_jobs import BUCKET, Runner, _job, _task, runner

__all__ = ["runner"]

HOSTILE = "<script>alert(1)</script></svg><b>bold</b>"
#: Runs two seconds (Docker's cgroup, read while it runs, goes when it exits); instance 1
#: fails the first time.
FLAKY = (
    "sleep 2; f=/mnt/state/tried.$BATCH_COMPUTE_DAG_INSTANCE_ID;"
    " if [ $BATCH_COMPUTE_DAG_INSTANCE_ID != 1 ] || [ -e $f ]; then echo ok;"
    " else touch $f; exit 7; fi"
)


def _body() -> dict[str, Any]:
    state = {
        "Entries": [
            {"Source": f"oss://{BUCKET}/state/", "Destination": "/mnt/state/", "WriteSupport": True}
        ]
    }
    tasks = {
        "prepare": _task("echo prepared"),
        "count": _task(FLAKY, InstanceCount=3, MaxRetryCount=1, Mounts=state),
        "broken": _task(f'echo "{HOSTILE}" >&2; exit 3'),
        "merge": _task("echo merged"),
    }
    deps = {"prepare": ["count", "broken"], "count": ["merge"]}
    return _job(tasks, deps, JobFailOnInstanceFail=False)


def test_run_prints_the_report_and_the_report_renders(runner: Runner, browser: Any) -> None:
    ran = runner.run(_body())
    assert ran.code == 0, ran.stdout + ran.stderr
    path = report_path(ran.state_dir, ran.job_id)
    assert ran.stdout.rstrip().splitlines()[-1] == f"report: {path}"

    shown = subprocess.run(
        [*runner.command(_body())[:3], "report", ran.job_id, "--format", "json",
         "--state-dir", str(ran.state_dir)],
        capture_output=True, text=True, env=runner.env(), check=True,
    )  # fmt: skip
    data = json.loads(shown.stdout)
    count = next(t for t in data["Tasks"] if t["Name"] == "count")
    retried = count["Instances"][1]["Attempts"]
    assert [(a["State"], a["ExitCode"]) for a in retried] == [("Failed", 7), ("Finished", 0)]
    for attempt in retried:
        assert attempt["ResourceSource"].startswith(("cgroup", "process tree")), str(attempt)
        assert attempt["PeakMemoryBytes"] > 0 and attempt["CpuSeconds"] >= 0

    open_page(browser, path)
    assert console_errors(browser) == []
    dom = browser.execute_script(
        """return {
            svgs: [...document.querySelectorAll('svg')].map(s => s.id),
            nodes: [...document.querySelectorAll('#dag-svg g.node')].map(g => g.dataset.task),
            tables: [...document.querySelectorAll('h3.task')].map(h => h.dataset.task),
            bars: document.querySelectorAll('#timeline-svg rect[class^=state-]').length,
            scripts: document.scripts.length,
            bold: document.querySelectorAll('main b').length,
            stderr: [...document.querySelectorAll('pre.stderr')].map(p => p.textContent),
            failed: [...document.querySelectorAll('h3.failed')].map(h => h.dataset.instance),
        }"""
    )
    tasks = ["prepare", "broken", "count", "merge"]
    assert dom["svgs"] == ["dag-svg", "timeline-svg"]
    assert dom["nodes"] == tasks and dom["tables"] == tasks
    assert dom["bars"] == 7  # one per attempt: the retried instance has two
    assert dom["scripts"] == 0
    assert dom["failed"] == ["broken.0"] and HOSTILE in dom["stderr"][0]
    bold_in_page_itself = browser.execute_script(
        "return [...document.querySelectorAll('main b')].map(b => b.textContent)"
    )
    assert "bold" not in bold_in_page_itself


def test_report_of_a_missing_job_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "localbatch", "report", "job-00000000000000000000000000000000",
         "--state-dir", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "NotFound" in done.stderr
