"""Several processes opening one new state dir at the same moment must all get the store."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from localbatch.store import Store


def _open_and_count(state_dir: str, start: object, results: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    try:
        store = Store.open(Path(state_dir))
        try:
            results.put(("ok", len(store.list_jobs().items)))  # type: ignore[attr-defined]
        finally:
            store.close()
    except Exception as exc:  # the failure the test looks for
        results.put(("error", repr(exc)))  # type: ignore[attr-defined]


def test_concurrent_first_opens_all_succeed(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for round_number in range(10):
        state_dir = tmp_path / f"state-{round_number}"
        start = context.Event()
        results = context.Queue()
        openers = [
            context.Process(target=_open_and_count, args=(str(state_dir), start, results))
            for _ in range(4)
        ]
        for opener in openers:
            opener.start()
        start.set()
        outcomes = [results.get(timeout=60) for _ in openers]
        for opener in openers:
            opener.join(timeout=60)
        assert outcomes == [("ok", 0)] * 4
