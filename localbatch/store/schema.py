"""The SQLite schema, created on first open (and idempotent on every open), and the
migration of a store written by an earlier localbatch."""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    priority INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    creation_time REAL NOT NULL,
    start_time REAL,
    end_time REAL,
    body TEXT NOT NULL,
    cluster_ids TEXT NOT NULL DEFAULT '',
    idempotent_token TEXT UNIQUE,
    body_digest TEXT NOT NULL DEFAULT '',
    runner TEXT NOT NULL DEFAULT '',
    run INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS tasks (
    job_id TEXT NOT NULL,
    name TEXT NOT NULL,
    pos INTEGER NOT NULL,
    state TEXT NOT NULL,
    start_time REAL,
    end_time REAL,
    -- Instances are rows once something happens to them: the others (idle) are counted
    -- here, in idle_state (store/instance_rows.py).
    instance_count INTEGER NOT NULL DEFAULT 0,
    idle_state TEXT NOT NULL DEFAULT 'Waiting',
    PRIMARY KEY (job_id, name)
);
CREATE TABLE IF NOT EXISTS instances (
    job_id TEXT NOT NULL,
    task_name TEXT NOT NULL,
    instance_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    start_time REAL,
    end_time REAL,
    retry_count INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER,
    exit_code INTEGER,
    error_code TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (job_id, task_name, instance_id)
);
CREATE TABLE IF NOT EXISTS attempts (
    job_id TEXT NOT NULL,
    task_name TEXT NOT NULL,
    instance_id INTEGER NOT NULL,
    run INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    state TEXT NOT NULL,
    start_time REAL,
    end_time REAL,
    exit_code INTEGER,
    error_code TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT '',
    ref TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, task_name, instance_id, run, attempt)
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    name TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_job ON events (job_id, seq);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, seq);
CREATE TABLE IF NOT EXISTS signature_nonces (
    nonce TEXT PRIMARY KEY,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS signature_nonces_by_expiry ON signature_nonces (expires);
"""


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a store of an earlier version up to this schema (inside a write transaction).

    Stores before lazily recorded instances have a row for every instance: each task's
    instance count is its number of rows, and none is idle.
    """
    columns = {row[1] for row in conn.execute("PRAGMA table_info(tasks)")}
    if "instance_count" not in columns:
        conn.execute("ALTER TABLE tasks ADD COLUMN instance_count INTEGER NOT NULL DEFAULT 0")
        conn.execute("ALTER TABLE tasks ADD COLUMN idle_state TEXT NOT NULL DEFAULT 'Waiting'")
        conn.execute(
            "UPDATE tasks SET instance_count = (SELECT COUNT(*) FROM instances i"
            " WHERE i.job_id = tasks.job_id AND i.task_name = tasks.name)"
        )
