"""The SQLite schema, created on first open (and idempotent on every open); a store made
by an earlier version is brought up to it by `migrations`."""

from __future__ import annotations

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
    stdout_offset INTEGER,
    stderr_offset INTEGER,
    usage_source TEXT,
    peak_memory_bytes INTEGER,
    cpu_seconds REAL,
    oom_killed INTEGER,
    throttled_seconds REAL,
    memory_limit_bytes INTEGER,
    cpu_limit_cores REAL,
    usage_note TEXT,
    launch_time REAL,
    capacity_wait_start REAL,
    capacity_wait_reason TEXT,
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
