"""The HTML page (both pictures, every task, everything escaped), the text view, the report
written when a job ends, `localbatch report`, `status --json`, and the page under serve."""

from __future__ import annotations

import http.client
import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from localbatch.cli import main
from localbatch.report.html import render_html, row_height
from localbatch.report.model import AttemptView, build_report
from localbatch.report.phases import Phase
from localbatch.report.text import render_text
from localbatch.report.writer import report_path
from localbatch.server.reports import loopback_peer
from tests.unit.server.server_helpers import start_api

from .conftest import HOSTILE, RanJob, SlowStart, job_body, run_job, script


def _cli(ran: RanJob, *args: str) -> Result:
    env = {"LOCALBATCH_CONFIG": str(ran.config.state_dir.parent / "none.toml")}
    return CliRunner().invoke(
        main, [*args, "--state-dir", str(ran.config.state_dir)], env=env, catch_exceptions=False
    )


def test_the_page_has_both_pictures_every_task_and_escapes_the_job(ran: RanJob) -> None:
    page = render_html(build_report(ran.config, ran.local.store, ran.job_id))
    assert 'id="dag-svg"' in page and 'id="timeline-svg"' in page
    for task in ("prepare", "count", "summary", "merge"):
        assert f'data-task="{task}"' in page
    assert "<script" not in page and HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;/svg&gt;" in page
    assert page.count("</svg>") == 2
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page


def test_the_text_view_lists_tasks_slowest_instances_and_flags(ran: RanJob) -> None:
    text = render_text(build_report(ran.config, ran.local.store, ran.job_id))
    lines = text.splitlines()
    assert lines[0].startswith(f"job {ran.job_id} (report") and "Failed" in lines[0]
    assert [line.split()[0] for line in lines[2:6]] == ["prepare", "count", "summary", "merge"]
    assert "slowest instances:" in text
    assert "HighMemory" in text and "OomKilled" in text and "Throttled" in text
    assert "failed instances:" in text and "merge.0: OutOfMemory" in text


def test_the_text_view_says_where_the_time_before_a_run_went_and_why_it_waited(
    tmp_path: Path,
) -> None:
    """One instance at a time: the tasks held back for capacity with the engine's reason,
    and each slow instance's waits and preparation before its last attempt ran."""
    for held in run_job(tmp_path, job_body(2), max_parallel=1, runtime=SlowStart(0.05)):
        text = render_text(build_report(held.config, held.local.store, held.job_id))
        waits = text.split("waited for capacity:\n", 1)[1].split("\n\n", 1)[0].splitlines()
        assert len(waits) >= 2
        assert all("attempt(s), at most" in w and "--max-parallel 1" in w for w in waits)
        summary = next(line for line in text.splitlines() if line.startswith("  summary.0 "))
        assert "before its last attempt ran: waiting for upstream tasks" in summary
        assert "waiting for capacity" in summary and "preparing" in summary


def test_the_text_view_says_nothing_of_spans_too_short_to_tell(ran: RanJob) -> None:
    """An instant run: its waits and preparation took no time worth a word."""
    report = build_report(ran.config, ran.local.store, ran.job_id)

    def instant(attempt: AttemptView) -> AttemptView:
        spans = [s if s.phase == Phase.RUNNING else replace(s, end=s.start) for s in attempt.spans]
        return replace(attempt, spans=tuple(spans))

    tasks = [
        replace(
            task,
            instances=tuple(
                replace(i, attempts=tuple(map(instant, i.attempts))) for i in task.instances
            ),
        )
        for task in report.tasks
    ]
    text = render_text(replace(report, tasks=tuple(tasks)))
    assert "slowest instances:" in text and "before its last attempt ran" not in text
    assert "0.00s," not in text and "0.00s)" not in text


def test_the_report_is_written_when_the_job_ends(ran: RanJob) -> None:
    path = report_path(ran.config.state_dir, ran.job_id)
    assert path.is_file() and 'id="timeline-svg"' in path.read_text()


def test_report_command_formats_and_outputs(ran: RanJob, tmp_path: Path) -> None:
    path = report_path(ran.config.state_dir, ran.job_id)
    path.unlink()
    html = _cli(ran, "report", ran.job_id)
    assert html.exit_code == 0 and html.stdout.strip() == str(path) and path.is_file()
    assert _cli(ran, "report", "last").stdout.strip() == str(path)
    assert _cli(ran, "report", ran.job_id[:12]).stdout.strip() == str(path)
    data = json.loads(_cli(ran, "report", ran.job_id, "--format", "json").stdout)
    assert data["JobId"] == ran.job_id
    assert _cli(ran, "report", ran.job_id, "--format", "text").stdout.startswith("job ")
    target = tmp_path / "mine.html"
    written = _cli(ran, "report", ran.job_id, "-o", str(target))
    assert written.stdout.strip() == str(target) and "<svg" in target.read_text()
    missing = _cli(ran, "report", "job-00000000000000000000000000000000")
    assert missing.exit_code == 2 and "NotFound" in missing.stderr
    nowhere = _cli(ran, "report", ran.job_id, "-o", str(tmp_path / "no" / "dir.html"))
    assert nowhere.exit_code != 0 and "cannot write the report" in nowhere.stderr


def test_status_json_lists_each_attempts_resource_use(ran: RanJob) -> None:
    shown = json.loads(_cli(ran, "status", ran.job_id, "merge", "0", "--json").stdout)
    (attempt,) = shown["Attempts"]
    assert attempt["OomKilled"] is True and attempt["PeakMemoryBytes"] == 4 * 2**30
    assert attempt["ResourceSource"] == "fake" and attempt["Throttled"] is None


def test_rows_shrink_so_a_thousand_instances_fit() -> None:
    assert row_height(4) == 18 and row_height(1000) == 5 and row_height(200) == 12


def test_serve_answers_the_report_unsigned_to_this_machine(tmp_path: Path) -> None:
    env = {"LOCALBATCH_ACCESS_KEY_ID": "id", "LOCALBATCH_ACCESS_KEY_SECRET": "secret"}
    api = start_api(tmp_path, env=env)
    try:
        script(api.runtime)
        job_id = api.create({**job_body(), "Name": "report"})
        api.stack.engine.wait(job_id, 30)
        host, port = api.stack.url.removeprefix("http://").split(":")
        for target, status in (
            (f"/localbatch/reports/{job_id}", 200),
            ("/localbatch/reports/job-00000000000000000000000000000000", 404),
            ("/localbatch/reports/..%2F..%2Fetc%2Fpasswd", 404),
            (f"/jobs/{job_id}", 403),  # the API itself still needs a signature
        ):
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", target)
            reply = conn.getresponse()
            body = reply.read().decode()
            conn.close()
            assert reply.status == status, (target, body)
        assert reply.status == 403
    finally:
        api.stack.close()


class _Request:
    def __init__(self, remote: str | None) -> None:
        self.remote = remote


@pytest.mark.parametrize(
    ("remote", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("10.0.0.5", False), (None, False), ("x", False)],
)
def test_only_loopback_peers_count_as_this_machine(remote: str | None, loopback: bool) -> None:
    assert loopback_peer(_Request(remote)) is loopback  # type: ignore[arg-type]
