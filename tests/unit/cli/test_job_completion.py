"""Shell completion of job ids, through click's completion protocol as a shell drives it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from localbatch.cli import main
from localbatch.spec.model import parse_job
from localbatch.store import Store
from tests.unit.server.server_helpers import make_body

OLDER = "job-0A1B2C3D4E5F60718293A4B5C6D7E8F9"
NEWER = "job-0A1BFFFF4E5F60718293A4B5C6D7E8F9"
OTHER = "job-77777777777777777777777777777777"


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    store = Store.open(state)
    for created, job_id in enumerate((OLDER, NEWER, OTHER)):
        store.create_job(job_id, parse_job(make_body(name=f"n{created}")), created=float(created))
    store.close()
    return state


def _offered(words: str, env_extra: dict[str, str] | None = None) -> list[str]:
    """What `zsh` would be offered for the last word of `words` (value and help)."""
    env = {
        "_LOCALBATCH_COMPLETE": "zsh_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
        "LOCALBATCH_CONFIG": "/nonexistent/config.toml",
        **(env_extra or {}),
    }
    result = CliRunner().invoke(main, [], env=env, prog_name="localbatch")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines() if result.output.strip() else []
    return [f"{lines[i + 1]}|{lines[i + 2]}" for i in range(0, len(lines), 3)]


def test_job_ids_of_the_named_state_dir_are_offered_newest_first(state_dir: Path) -> None:
    offered = _offered(f"localbatch status --state-dir {state_dir} job-0a1")
    assert offered == [f"{NEWER}|n1 (Waiting)", f"{OLDER}|n0 (Waiting)"]


def test_without_job_prefix_and_before_the_command_name(state_dir: Path) -> None:
    assert _offered(f"localbatch --state-dir {state_dir} logs 7") == [f"{OTHER}|n2 (Waiting)"]


def test_an_empty_word_offers_last_and_every_job(state_dir: Path) -> None:
    offered = _offered(f"localbatch report --state-dir {state_dir} ")
    assert [o.split("|")[0] for o in offered] == ["last", OTHER, NEWER, OLDER]


@pytest.mark.parametrize("typed", ["j", "JO", "job-"])
def test_a_half_typed_prefix_offers_every_job(state_dir: Path, typed: str) -> None:
    offered = _offered(f"localbatch status --state-dir {state_dir} {typed}")
    assert [o.split("|")[0] for o in offered] == [OTHER, NEWER, OLDER]


def test_the_state_dir_comes_from_the_environment_too(state_dir: Path) -> None:
    offered = _offered("localbatch stop job-7", {"LOCALBATCH_STATE_DIR": str(state_dir)})
    assert offered == [f"{OTHER}|n2 (Waiting)"]


def test_no_store_offers_last_only_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert _offered(f"localbatch status --state-dir {missing} ") == ["last|the newest job"]
    assert not missing.exists()


def test_an_unreadable_store_offers_nothing_and_prints_no_error(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "localbatch.db").write_bytes(b"not a database" * 100)
    assert _offered(f"localbatch status --state-dir {state} job-") == []


def test_completion_only_reads_the_store(state_dir: Path) -> None:
    with sqlite3.connect(state_dir / "localbatch.db") as db:
        db.execute("PRAGMA user_version = 1")  # as an older localbatch left it
    assert _offered(f"localbatch status --state-dir {state_dir} 7") == [f"{OTHER}|n2 (Waiting)"]
    with sqlite3.connect(state_dir / "localbatch.db") as db:
        assert db.execute("PRAGMA user_version").fetchone() == (1,)  # not upgraded
