"""Where a job's HTML report is written, and the listener that writes it when a job ends.

`<state-dir>/jobs/<job-id>/report.html`, replaced whole (a reader never sees half a page):
`localbatch report` writes it there by default, `run` prints its path at the end, `serve`
writes it as each job ends and serves it (docs/reports.md).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from localbatch.config import Config
from localbatch.diskspace import explain
from localbatch.events import Event
from localbatch.report.html import render_html
from localbatch.report.model import build_report
from localbatch.storage.layout import job_dir
from localbatch.store import Store
from localbatch.tempfiles import temporary_name

log = logging.getLogger(__name__)

REPORT_FILE = "report.html"


def report_path(state_dir: Path, job_id: str) -> Path:
    return job_dir(state_dir, job_id) / REPORT_FILE


def write_whole(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`."""
    temporary = path.with_name(temporary_name())
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_report(config: Config, store: Store, job_id: str, path: Path | None = None) -> Path:
    """Build the job's report from the store and write its HTML (to its default place)."""
    target = path or report_path(config.state_dir, job_id)
    if path is None:
        target.parent.mkdir(parents=True, exist_ok=True)
    write_whole(target, render_html(build_report(config, store, job_id)))
    return target


class ReportWriter:
    """Listener: writes a job's report when the job ends (Finished, Failed or Stopped),
    for `run`, `start` and `serve` alike; a report that cannot be written is logged."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store

    def __call__(self, event: Event) -> None:
        if event.category != "Job" or not event.state.terminal:
            return
        try:
            write_report(self.config, self.store, event.job_id)
        except OSError as exc:  # a full or read-only disk: one line, not a traceback
            where = report_path(self.config.state_dir, event.job_id)
            log.warning("cannot write the report %s: %s", where, explain(where.parent, exc))
        except Exception:
            log.exception("could not write the report of %s", event.job_id)

    def close(self) -> None:
        """Nothing held: each report is written whole when its job ends."""
