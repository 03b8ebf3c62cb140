"""Signature nonces: each is recorded once, remembered until its window ends, then pruned."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from localbatch.store import Store


def _rows(store: Store) -> list[str]:
    with sqlite3.connect(store.path) as conn:
        return [row[0] for row in conn.execute("SELECT nonce FROM signature_nonces")]


def test_a_nonce_is_accepted_once(store: Store) -> None:
    assert store.use_nonce("key\nn-1", expires=100.0, now=0.0)
    assert not store.use_nonce("key\nn-1", expires=100.0, now=50.0)
    assert store.use_nonce("key\nn-2", expires=100.0, now=50.0)


def test_nonces_are_pruned_once_their_window_passed(store: Store) -> None:
    store.use_nonce("old", expires=10.0, now=0.0)
    store.use_nonce("young", expires=1000.0, now=0.0)
    store.use_nonce("other", expires=1000.0, now=11.0)
    assert sorted(_rows(store)) == ["other", "young"]
    # Past its window the old nonce is unknown again (its Date is refused before this).
    assert store.use_nonce("old", expires=1000.0, now=11.0)


def test_nonces_survive_a_reopen(tmp_path: Path) -> None:
    first = Store.open(tmp_path)
    first.use_nonce("n", expires=100.0, now=0.0)
    first.close()
    second = Store.open(tmp_path)
    try:
        assert not second.use_nonce("n", expires=100.0, now=1.0)
    finally:
        second.close()
