"""Replays of requests the official SDK signed itself: each signature nonce is used once.

The SDK signs no digest of the body (it sends an unsigned hex MD5 in a `contentMd5`
header): without a nonce ledger, a captured CreateJob could be sent again, unchanged or
with another body, and create a job each time. The requests here are the SDK's own: its
HTTP connection is watched and what it sent is sent again byte for byte.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from localbatch.config import load_config
from localbatch.runtime.fake import FakeRuntime
from localbatch.server.stack import start_stack
from tests.unit.server.server_helpers import Api, start_signed_api

batchcompute = pytest.importorskip("batchcompute")
import batchcompute.utils.http as sdk_http  # noqa: E402
from batchcompute import Client  # noqa: E402

from tests.clients.test_sdk import AK, SK, _job  # noqa: E402

pytestmark = pytest.mark.clients


@dataclass
class Sent:
    method: str
    url: str
    body: Any
    headers: dict[str, str]


@dataclass
class Recorder:
    """Every request the SDK sends, as it passed them to its HTTP connection."""

    requests: list[Sent] = field(default_factory=list)

    def last(self, method: str) -> Sent:
        return next(r for r in reversed(self.requests) if r.method == method)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorded = Recorder()
    real = sdk_http.httplib.HTTPConnection.request

    def watching(self: Any, method: str, url: str, body: Any = None, headers: Any = None) -> Any:
        recorded.requests.append(Sent(method, url, body, dict(headers or {})))
        return real(self, method, url, body, headers or {})

    monkeypatch.setattr(sdk_http.httplib.HTTPConnection, "request", watching)
    return recorded


@pytest.fixture
def signed_api(tmp_path: Path) -> Iterator[Api]:
    started = start_signed_api(tmp_path, AK, SK)
    yield started
    started.stack.close()


def _client(port: int) -> Any:
    Client.register_region("local", "127.0.0.1", port)
    return Client("127.0.0.1", AK, SK)


def _send(port: int, sent: Sent, *, body: Any = None, drop: tuple[str, ...] = ()) -> Any:
    """The recorded request again, optionally with another body or without some headers."""
    payload = sent.body if body is None else body
    headers = {k: v for k, v in sent.headers.items() if k not in drop}
    if body is not None:
        headers["Content-Length"] = str(len(payload))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(sent.method, sent.url, body=payload, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def _job_count(api: Api) -> int:
    return api.stack.store.job_count()


def test_an_unchanged_replay_is_refused(signed_api: Api, recorder: Recorder) -> None:
    port = signed_api.stack.api.port
    _client(port).create_job(_job())
    sent = recorder.last("POST")
    assert _job_count(signed_api) == 1

    status, body = _send(port, sent)
    assert (status, body["Code"]) == (400, "SignatureNonceUsed")
    assert body["Message"] == "Specified signature nonce was used already."
    assert _job_count(signed_api) == 1


def test_a_replay_with_another_body_is_refused(signed_api: Api, recorder: Recorder) -> None:
    port = signed_api.stack.api.port
    _client(port).create_job(_job())
    sent = recorder.last("POST")
    other = json.dumps(json.loads(sent.body) | {"Name": "replayed"})

    # Under the very same headers: the SDK's own contentMd5 no longer matches the body.
    status, body = _send(port, sent, body=other)
    assert (status, body["Code"]) == (400, "InvalidDigest")
    # Without the (unsigned) digest header: the used nonce refuses it.
    status, body = _send(port, sent, body=other, drop=("contentMd5",))
    assert (status, body["Code"]) == (400, "SignatureNonceUsed")
    assert _job_count(signed_api) == 1
    names = [job.name for job in signed_api.stack.store.list_jobs().items]
    assert names == ["sdk-job"]


def test_a_read_is_not_replayable_either(signed_api: Api, recorder: Recorder) -> None:
    port = signed_api.stack.api.port
    _client(port).list_jobs("", 10)
    sent = recorder.last("GET")
    status, body = _send(port, sent)
    assert (status, body["Code"]) == (400, "SignatureNonceUsed")


def test_a_restart_does_not_reopen_the_window(tmp_path: Path, recorder: Recorder) -> None:
    env = {"LOCALBATCH_ACCESS_KEY_ID": AK, "LOCALBATCH_ACCESS_KEY_SECRET": SK}
    config = load_config(
        tmp_path / "none.toml", env=env, state_dir=tmp_path / "state", oss_root=tmp_path / "oss"
    )
    first = start_stack(config, FakeRuntime(), port=0, oss_port=None)
    try:
        _client(first.api.port).create_job(_job())
    finally:
        first.close()
    sent = recorder.last("POST")

    second = start_stack(config, FakeRuntime(), port=0, oss_port=None)
    try:
        status, body = _send(second.api.port, sent)
        assert (status, body["Code"]) == (400, "SignatureNonceUsed")
        assert second.store.job_count() == 1
    finally:
        second.close()


def test_fresh_sdk_requests_keep_working(signed_api: Api) -> None:
    """Every SDK call carries a new nonce: many in a row are all accepted."""
    client = _client(signed_api.stack.api.port)
    ids = {client.create_job(_job(name=f"j{n}")).Id for n in range(5)}
    assert len(ids) == 5
    for _ in range(20):
        assert client.list_jobs("", 100).NextMarker == ""
