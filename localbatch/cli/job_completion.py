"""Shell completion of job ids: `localbatch status job-5<TAB>` offers the jobs of the state
directory the command line names, newest first, with their name and state, and `last`.

It runs on every TAB, so it only reads a store that already exists (read only: never
creating, upgrading or waiting long on one), and a problem offers nothing instead of an
error: a shell has nowhere to show one, and a half-typed command line (an unreadable
--config, say) is normal while completing.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import click
from click.shell_completion import CompletionItem

from localbatch.config import load_config
from localbatch.store.db import DB_NAME
from localbatch.store.job_ids import JOB_PREFIX, LAST, job_choices

#: Ids offered at most: more is noise in a terminal.
MAX_OFFERED = 50
_SHARED = ("config_path", "state_dir", "oss_root")


def complete_job_id(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The job ids (and `last`) that begin as `incomplete` does, any case, `job-` optional."""
    last = [CompletionItem(LAST, help="the newest job")] if LAST.startswith(incomplete) else []
    return last + _stored_jobs(ctx, incomplete)


def _stored_jobs(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    state_dir = _state_dir(ctx)
    if state_dir is None or not (state_dir / DB_NAME).is_file():
        return []
    try:
        jobs = job_choices(state_dir, JOB_PREFIX + _digits(incomplete), MAX_OFFERED)
    except sqlite3.Error:  # a store that cannot be read offers no ids, and prints nothing
        return []
    return [CompletionItem(job_id, help=f"{name} ({state})") for job_id, name, state in jobs]


def _digits(incomplete: str) -> str:
    """What of the id's hex digits is typed: nothing while `job-` itself is being typed."""
    lowered = incomplete.lower()
    if JOB_PREFIX.startswith(lowered):
        return ""
    return incomplete[len(JOB_PREFIX) :] if lowered.startswith(JOB_PREFIX) else incomplete


def _state_dir(ctx: click.Context) -> Path | None:
    """The state directory the command line names so far (after or before the command
    name), as the command itself would choose it."""
    given: dict[str, Path | None] = dict.fromkeys(_SHARED)
    chain: click.Context | None = ctx
    while chain is not None:
        for name in _SHARED:
            if given[name] is None and chain.params.get(name) is not None:
                given[name] = Path(chain.params[name])
        chain = chain.parent
    with contextlib.suppress(Exception):
        config = load_config(
            given["config_path"], state_dir=given["state_dir"], oss_root=given["oss_root"]
        )
        return config.state_dir
    return None
