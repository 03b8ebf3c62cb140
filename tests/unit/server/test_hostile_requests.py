"""Hostile requests get a documented 4xx with a JSON error body: never a 5xx, never a
traceback in the log, and never aiohttp's own plain-text answer from a failing handler."""

from __future__ import annotations

import gzip
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.unit.server.server_helpers import Api, make_body


def raw_request(
    port: int,
    method: bytes,
    target: bytes,
    body: bytes = b"",
    headers: bytes = b"",
    *,
    timeout: float = 30.0,
) -> tuple[int, Any]:
    """One request written byte for byte (http.client refuses to send most of these)."""
    request = (
        method + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n" + headers + b"\r\n" + body
    )
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload


@pytest.fixture
def tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    """The log records that carry a traceback, from any logger."""
    caplog.set_level(logging.INFO)
    yield lambda: [r.getMessage() for r in caplog.records if r.exc_info]


def _coded(reply: tuple[int, Any], status: int, code: str) -> None:
    assert reply[0] == status, reply
    assert isinstance(reply[1], dict) and reply[1]["Code"] == code, reply


@pytest.mark.parametrize(
    "header",
    [
        b"x-acs-version: 2015-11-11\xff",
        b"x-acs-version: \xc3\xa9",
        b"Date: \xff\xfe",
        b"User-Agent: caf\xc3\xa9",
        b"x-acs-signature-nonce: \x80",
        b"contentMd5: \xff",
    ],
)
def test_a_header_that_is_not_ascii_is_a_400(
    api: Api, header: bytes, tracebacks: Callable[[], list[str]]
) -> None:
    reply = raw_request(api.stack.api.port, b"GET", b"/jobs", headers=header + b"\r\n")
    _coded(reply, 400, "InvalidHeader")
    assert tracebacks() == []


def test_content_encoding_is_refused_before_anything_is_inflated(
    api: Api, tracebacks: Callable[[], list[str]]
) -> None:
    port = api.stack.api.port
    body = json.dumps(make_body()).encode()
    for encoding, payload in [
        (b"gzip", b"not gzip at all"),
        (b"gzip", gzip.compress(body)),
        (b"deflate", b"x"),
        (b"br", b"x"),
        (b"x-unknown", body),
    ]:
        headers = b"Content-Encoding: " + encoding + b"\r\n"
        reply = raw_request(port, b"POST", b"/jobs", payload, headers)
        _coded(reply, 400, "InvalidHeader")
        assert "Content-Encoding" in reply[1]["Message"]
    # A gzip bomb is never inflated: 10 MB of zeros compress to ~10 kB.
    bomb = gzip.compress(b"\0" * 10_000_000)
    reply = raw_request(port, b"POST", b"/jobs", bomb, b"Content-Encoding: gzip\r\n")
    _coded(reply, 400, "InvalidHeader")
    headers = b"Content-Encoding: identity\r\n"
    assert raw_request(port, b"POST", b"/jobs", body, headers)[0] == 201
    assert api.stack.store.job_count() == 1
    assert tracebacks() == []


@pytest.mark.parametrize(
    "query",
    [
        "Marker=99999999999999999999999",
        "Marker=-1",
        "Marker=1e3",
        "Marker=%D9%A3",  # an Arabic-Indic digit: int() would read it as 3
        "MaxItemCount=99999999999999999999999999999",
        "MaxItemCount=1_0",
        "MaxItemCount=%201",
        "MaxItemCount=%D9%A3",
    ],
)
def test_out_of_range_numbers_in_a_query_are_403(
    api: Api, query: str, tracebacks: Callable[[], list[str]]
) -> None:
    job_id = api.create(make_body())
    api.wait_state(job_id, "Finished")
    for path in ("/jobs", f"/jobs/{job_id}/tasks/split/instances"):
        reply = api.request("GET", f"{path}?{query}")
        assert (reply.status, reply.body["Code"]) == (403, "InvalidQueryString"), (path, reply)
    assert tracebacks() == []


@pytest.mark.parametrize("instance", ["99999999999999999999999", "%D9%A3", "1_0", "-1", "+1"])
def test_an_instance_id_that_is_no_plain_number_is_not_found(api: Api, instance: str) -> None:
    job_id = api.create(make_body())
    api.wait_state(job_id, "Finished")
    reply = api.request("GET", f"/jobs/{job_id}/tasks/split/instances/{instance}")
    assert (reply.status, reply.body["Code"]) == (404, "InvalidResource.NotFound")


def test_too_long_names_and_tokens_are_4xx(api: Api) -> None:
    port = api.stack.api.port
    for target in (b"/jobs/" + b"j" * 8000, b"/jobs/job-1/tasks/" + b"t" * 8000, b"/x" * 4000):
        status, _ = raw_request(port, b"GET", target)
        assert 400 <= status < 500, target
    status, _ = raw_request(port, b"GET", b"/jobs/" + b"j" * 100_000)
    assert status == 400
    reply = api.request("POST", "/jobs?IdempotentToken=" + "t" * 129, make_body())
    assert (reply.status, reply.body["Code"]) == (403, "InvalidQueryString")
    assert api.request("POST", "/jobs?IdempotentToken=" + "t" * 128, make_body()).status == 201


@pytest.mark.parametrize(
    "text",
    [
        '{"\\ud800": 1}',
        '{"Name": "\\udfff"}',
        '{"Name": "demo", "X\\ud800": {"\\udc00": ["\\ud800"]}}',
    ],
)
def test_lone_surrogates_are_invalid_json(
    api: Api, text: str, tracebacks: Callable[[], list[str]]
) -> None:
    reply = raw_request(api.stack.api.port, b"POST", b"/jobs", text.encode())
    _coded(reply, 400, "InvalidJsonFormat")
    assert tracebacks() == []


def test_a_valid_body_with_a_lone_surrogate_is_invalid_json(api: Api) -> None:
    """The finding: such a body passed validation and failed in the store with a 500."""
    body = make_body()
    body["DAG"]["Tasks"]["split"]["Parameters"]["Command"]["CommandLine"] = "echo \ud800"
    text = json.dumps(body)  # ensure_ascii: the surrogate travels as a "\ud800" escape
    reply = raw_request(api.stack.api.port, b"POST", b"/jobs", text.encode())
    _coded(reply, 400, "InvalidJsonFormat")
    body = make_body(**{"Unknown\udc80": 1})
    reply = raw_request(api.stack.api.port, b"POST", b"/jobs", json.dumps(body).encode())
    _coded(reply, 400, "InvalidJsonFormat")
    assert api.stack.store.job_count() == 0


def test_numbers_out_of_range_in_a_body_are_invalid_json(api: Api) -> None:
    port = api.stack.api.port
    body = json.dumps(make_body())
    for extra in ('"Unknown": 1e400', '"Unknown": -1e999', '"Unknown": ' + "9" * 101):
        text = body[:-1] + ", " + extra + "}"
        _coded(raw_request(port, b"POST", b"/jobs", text.encode()), 400, "InvalidJsonFormat")
    job_id = api.create(make_body())
    api.wait_state(job_id, "Finished")
    _coded(
        raw_request(port, b"PUT", f"/jobs/{job_id}".encode(), b'{"Priority": 1e400}'),
        400,
        "InvalidJsonFormat",
    )


def test_an_error_answer_that_cannot_be_encoded_still_answers_json(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error handler itself never fails: a message holding a lone surrogate is sent
    escaped, as valid JSON."""
    from localbatch.spec.errors import not_found

    def failing(job_id: str) -> None:
        raise not_found(f"{job_id}\udcff")

    monkeypatch.setattr(api.stack.service, "job", failing)
    reply = raw_request(api.stack.api.port, b"GET", b"/jobs/job-1")
    _coded(reply, 404, "InvalidResource.NotFound")
    assert reply[1]["Message"] == "Specified resource job-1\udcff is not found."


def test_clients_hanging_up_are_not_logged_as_tracebacks(
    api: Api, tracebacks: Callable[[], list[str]]
) -> None:
    port = api.stack.api.port
    for reset in (False, True):
        conn = socket.create_connection(("127.0.0.1", port))
        if reset:  # RST instead of FIN
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        conn.sendall(b'POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"Name":')
        time.sleep(0.2)
        conn.close()
    for _ in range(3):  # gone before the answer is written
        conn = socket.create_connection(("127.0.0.1", port))
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        conn.sendall(b"GET /quotas HTTP/1.1\r\nHost: x\r\n\r\n")
        conn.close()
    # The server answers the next client as usual; by then the hang-ups were handled.
    assert api.request("GET", "/jobs").status == 200
    time.sleep(0.2)
    assert api.request("GET", "/jobs").status == 200
    assert tracebacks() == []
