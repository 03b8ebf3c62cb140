"""The run reports over HTTP, at `/localbatch/reports/<job-id>`: outside the BatchCompute
API's namespace, for a browser.

A browser cannot sign requests, so these pages are not signed; instead they are answered
only to clients on this machine (loopback peers), unless `serve --reports-from-anywhere`
opens them to every client that reaches the server. A recorded job's report is built
from the store on each request (a running job's shows it so far); a job no longer in the
store (deleted, AutoRelease) is answered with the report written when it ended.
"""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

from aiohttp import web

from localbatch.application.job_service import JobService
from localbatch.ids import JOB_ID_PATTERN
from localbatch.report.html import render_html
from localbatch.report.model import build_report
from localbatch.report.writer import report_path
from localbatch.spec.errors import ApiError

PREFIX = "/localbatch/reports/"
#: The page's own policy: nothing may be fetched, no script runs.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def is_report_path(path: str) -> bool:
    return path.startswith(PREFIX)


def loopback_peer(request: web.Request) -> bool:
    peer = request.remote or ""
    try:
        return ipaddress.ip_address(peer.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _page(service: JobService, job_id: str) -> str | None:
    try:
        return render_html(build_report(service.config, service.store, job_id))
    except ApiError:
        pass  # not in the store: the report written when it ended, if any
    path: Path = report_path(service.config.state_dir, job_id)
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _text(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", content_type="text/plain")


async def job_report(request: web.Request, service: JobService, anywhere: bool) -> web.Response:
    """The report page of one job; 403 for a remote client unless opened, 404 unknown."""
    if not anywhere and not loopback_peer(request):
        return _text(
            403,
            "run reports are served to this machine only "
            "(localbatch serve --reports-from-anywhere opens them)",
        )
    job_id = request.match_info["job_id"]
    if not JOB_ID_PATTERN.match(job_id):
        return _text(404, f"no job {job_id}")
    page = await asyncio.get_running_loop().run_in_executor(None, _page, service, job_id)
    if page is None:
        return _text(404, f"no report of job {job_id}")
    return web.Response(
        text=page,
        content_type="text/html",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"},
    )
