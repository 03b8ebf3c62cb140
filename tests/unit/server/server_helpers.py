"""A real server on 127.0.0.1 (fake runtime) and a plain HTTP client for it."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localbatch.config import load_config
from localbatch.events import AttemptSnapshot, Event
from localbatch.runtime.fake import FakeRuntime
from localbatch.server.signature import signed_headers
from localbatch.server.stack import ServiceStack, start_stack
from localbatch.spec.model import parse_job
from localbatch.states import State
from localbatch.store import Store

Body = dict[str, Any]


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: Any


@dataclass
class Api:
    """A plain HTTP client for the server under test (signing when the server wants it)."""

    stack: ServiceStack
    runtime: FakeRuntime

    def request(
        self,
        method: str,
        target: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.stack.api.port, timeout=30)
        try:
            data = (
                raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
            )
            config = self.stack.config
            signed = signed_headers(
                method,
                target,
                access_key_id=config.api_access_key_id,
                access_key_secret=config.api_access_key_secret,
                region=config.region,
                now=time.time(),
            )
            conn.request(method, target, body=data, headers={**signed, **(headers or {})})
            response = conn.getresponse()
            payload = response.read()
            parsed = json.loads(payload) if payload else None
            return Reply(response.status, response.headers, parsed)
        finally:
            conn.close()

    def create(self, body: Body, token: str = "") -> str:
        target = f"/jobs?IdempotentToken={token}" if token else "/jobs"
        reply = self.request("POST", target, body)
        assert reply.status == 201, reply.body
        return str(reply.body["Id"])

    def wait_state(self, job_id: str, *states: str) -> Body:
        """Block until the job reaches one of `states` (the engine's own wait, no polling)."""
        self.stack.engine.wait(job_id, timeout=30)
        reply = self.request("GET", f"/jobs/{job_id}")
        assert reply.body["State"] in states, reply.body
        return dict(reply.body)


def _task(instances: int = 2, **extra: Any) -> Body:
    return {
        "Parameters": {
            "Command": {"CommandLine": "python main.py", "PackagePath": "", "EnvVars": {}},
            "StdoutRedirectPath": "oss://bucket/logs/",
            "StderrRedirectPath": "oss://bucket/logs/",
        },
        "InstanceCount": instances,
        "MaxRetryCount": 0,
        "Timeout": 600,
        "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
        **extra,
    }


def make_body(name: str = "demo", instances: int = 2, **extra: Any) -> Body:
    body: Body = {
        "Name": name,
        "Type": "DAG",
        "Priority": 1,
        "JobFailOnInstanceFail": True,
        "DAG": {
            "Tasks": {"split": _task(instances), "merge": _task(1)},
            "Dependencies": {"split": ["merge"]},
        },
    }
    body.update(extra)
    return body


def start_api(tmp_path: Path, env: dict[str, str] | None = None, max_parallel: int = 4) -> Api:
    config = load_config(
        tmp_path / "none.toml",
        env=env or {},
        state_dir=tmp_path / "state",
        oss_root=tmp_path / "oss",
    )
    runtime = FakeRuntime()
    return Api(start_stack(config, runtime, port=0, oss_port=0, max_parallel=max_parallel), runtime)


def start_signed_api(tmp_path: Path, key_id: str, secret: str) -> Api:
    """A server whose every request must be signed with this key."""
    return start_api(
        tmp_path, env={"LOCALBATCH_ACCESS_KEY_ID": key_id, "LOCALBATCH_ACCESS_KEY_SECRET": secret}
    )


#: A runner recorded in the store that no process is.
DEAD_RUNNER = "999999999:1.000"


def record_orphan(store: Store, body: Body, retry_count: int = 0, ref: str = "") -> None:
    """What a runner killed while split.0 ran (as `ref`) leaves in the store: job-1 Running,
    split.0 Running its attempt at retry `retry_count` (started at 2.5, the instance at 2.0),
    the runner gone."""
    store.create_job("job-1", parse_job(body), created=1.0, runner=DEAD_RUNNER)
    store.on_event(Event("OnJobRunning", "job-1", State.RUNNING, 2.0, "Job", start_time=2.0))
    store.on_event(
        Event(
            "OnInstanceRunning", "job-1", State.RUNNING, 2.0, "Instance", "split", 0,
            start_time=2.0, attempt=retry_count, retry_count=retry_count,
            latest_attempt=AttemptSnapshot(retry_count, State.RUNNING, 2.5, ref=ref),
            detail={"ref": ref} if ref else {},
        )
    )  # fmt: skip
