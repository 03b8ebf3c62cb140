"""A seeded generator of malformed HTTP requests for the API, and a small raw client.

Each request is bytes on the wire: any method, path, query, header and body, most of them
close to a real request (so that they reach the handlers), some not HTTP at all. The client
keeps a few connections alive and reads answers by their Content-Length, so tens of
thousands of requests take seconds.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from multidict import CIMultiDict

from localbatch.server.signature import signature, string_to_sign

#: Methods the HTTP parser knows (others never reach the API: see `garbage`).
METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "PROPFIND"]
WORDS = [
    "jobs", "tasks", "instances", "stop", "start", "quotas", "available", "images",
    "clusters", "description", "split", "merge", "..", ".", "", "%2e%2e", "%00", "%ff",
    "%ED%A0%80", "%C3%A9", "job-0", "0", "-1", "1e3", "99999999999999999999999",
]  # fmt: skip
QUERY_KEYS = [
    "Marker", "MaxItemCount", "State", "OrderBy", "IsReverse", "ClusterId", "ProjectId",
    "IdempotentToken", "description", "x", "",
]  # fmt: skip
VALUES = [
    "", "0", "1", "100", "1000", "1001", "-1", "1.5", "1e400", "99999999999999999999999",
    "1_0", "%20", "%D9%A3", "%ED%A0%80", "%ff", "%", "%zz", "Running", "Finished,Waiting",
    "Sleeping", "CreationTime", "true", "True", "cls-1", "a" * 200, "%00", "+1", "0x10",
]  # fmt: skip
HEADER_NAMES = [
    "x-acs-version", "Date", "Content-Type", "Content-Encoding", "Content-MD5", "contentMd5",
    "x-acs-signature-nonce", "Authorization", "Accept", "User-Agent", "x-acs-region-id",
    "Transfer-Encoding", "X-Anything",
]  # fmt: skip
HEADER_VALUES: list[bytes] = [
    b"", b"2015-11-11", b"2015-11-11\xff", b"\xc3\xa9", b"\x80\x81", b"gzip", b"deflate",
    b"br", b"identity", b"application/json", b"text/plain; charset=latin-1", b"acs x:y",
    b"acs :", b"Mon, 99 Jan 2020 00:00:00 GMT", b"Fri, 01 Jan 99999 00:00:00 GMT",
    b"Thu, 01 Jan 1970 00:00:00 GMT", b"x" * 4000, b"\t", b"chunked", b"not base64!",
    b"00000000000000000000000000000000",
]  # fmt: skip
SURROGATE_ESCAPES = ["\\ud800", "\\udfff", "\\uDBFF\\u0041", "\\ude00\\ud83d"]
JSON_VALUES: list[Any] = [
    None, True, 0, -1, 2**70, 1.5, "", "x" * 300, [], {}, [1, [2, [3]]], {"a": {"b": {}}},
    "oss://b/", "/abs", "9lives", 1e308,
]  # fmt: skip


@dataclass(frozen=True)
class Sent:
    """One request: its bytes, and whether it is HTTP the server will parse (keep-alive)."""

    data: bytes
    method: str
    is_http: bool


class RequestFactory:
    """Malformed requests from one seed; `signer` signs the well-formed ones as the SDK."""

    def __init__(
        self,
        seed: int,
        base_body: dict[str, Any],
        job_ids: list[str],
        signer: Signer | None,
    ) -> None:
        self.rng = random.Random(seed)
        self.base_body = base_body
        self.job_ids = job_ids
        self.signer = signer

    # -- parts --------------------------------------------------------------------------
    def _path(self) -> str:
        rng = self.rng
        job = rng.choice([*self.job_ids, "job-x", rng.choice(WORDS), "j" * rng.randrange(1, 3000)])
        shapes = [
            "/jobs",
            f"/jobs/{job}",
            f"/jobs/{job}/tasks",
            f"/jobs/{job}/tasks/{rng.choice(WORDS)}",
            f"/jobs/{job}/tasks/split/instances",
            f"/jobs/{job}/tasks/split/instances/{rng.choice(WORDS)}",
            f"/jobs/{job}/{rng.choice(WORDS)}",
            "/quotas",
            "/available",
            f"/images/{rng.choice(WORDS)}",
            f"/clusters/{rng.choice(WORDS)}",
            "/" + "/".join(rng.choice(WORDS) for _ in range(rng.randrange(0, 6))),
            "//jobs",
            "/jobs/",
        ]
        return rng.choice(shapes)

    def _query(self) -> str:
        rng = self.rng
        if rng.random() < 0.4:
            return ""
        pairs = []
        for _ in range(rng.randrange(1, 5)):
            key, value = rng.choice(QUERY_KEYS), rng.choice(VALUES)
            pairs.append(key if rng.random() < 0.1 else f"{key}={value}")
        return "?" + "&".join(pairs)

    def _body(self) -> bytes:
        rng = self.rng
        kind = rng.random()
        if kind < 0.15:
            return b""
        if kind < 0.25:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        body = json.loads(json.dumps(self.base_body))
        for _ in range(rng.randrange(1, 4)):
            self._mutate(body)
        text = json.dumps(body)
        if rng.random() < 0.15:  # an escape Python reads as a lone surrogate
            text = text.replace('"', '"' + rng.choice(SURROGATE_ESCAPES), 1)
        if rng.random() < 0.05:
            depth = rng.choice([60, 64, 65, 70, 500, 5000])
            text = text[:-1] + ', "Deep": ' + "[" * depth + "]" * depth + "}"
        data = text.encode()
        if rng.random() < 0.15:  # damage the bytes themselves
            for _ in range(rng.randrange(1, 4)):
                at = rng.randrange(len(data))
                data = data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]
        if rng.random() < 0.05:
            data = data[: rng.randrange(len(data))]
        return data

    def _mutate(self, body: dict[str, Any]) -> None:
        """Replace, delete or add one member somewhere in the body."""
        rng = self.rng
        node: Any = body
        for _ in range(rng.randrange(0, 6)):
            children = [v for v in node.values() if isinstance(v, dict)]
            if not children:
                break
            node = rng.choice(children)
        action = rng.random()
        value = json.loads(json.dumps(rng.choice(JSON_VALUES)))  # a fresh copy each time
        if action < 0.4 and node:
            node[rng.choice(list(node))] = value
        elif action < 0.6 and node:
            del node[rng.choice(list(node))]
        else:
            node[rng.choice(["Unknown", "InstanceCount", "Priority", "Name", "Timeout"])] = value

    def _headers(self, method: str, target: str, body: bytes) -> list[tuple[bytes, bytes]]:
        """A few hostile headers beside the usual ones; most requests then signed over all
        of them (so that they pass the signature check and reach the handlers)."""
        rng = self.rng
        raw = [(b"x-acs-version", b"2015-11-11"), (b"Content-Type", b"application/json")]
        for _ in range(rng.randrange(0, 3)):
            name = rng.choice(HEADER_NAMES)
            value = rng.choice(HEADER_VALUES)
            if name == "Content-MD5" and rng.random() < 0.7:
                value = base64.b64encode(hashlib.md5(body).digest())
            elif name == "contentMd5" and rng.random() < 0.7:
                value = hashlib.md5(body).hexdigest().encode()
            elif name == "Transfer-Encoding":
                continue  # framing is exercised by `garbage`
            raw.append((name.encode(), value))
        if self.signer is not None and rng.random() < 0.8:
            raw = self.signer(method, target, raw)
        return raw

    # -- requests -----------------------------------------------------------------------
    def request(self) -> Sent:
        rng = self.rng
        if rng.random() < 0.03:
            return self.garbage()
        method = rng.choice(METHODS)
        target = self._path() + self._query()
        body = self._body() if method in ("POST", "PUT") or rng.random() < 0.1 else b""
        lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
        lines += [name + b": " + value for name, value in self._headers(method, target, body)]
        lines.append(b"Content-Length: " + str(len(body)).encode())
        return Sent(b"\r\n".join(lines) + b"\r\n\r\n" + body, method, True)

    def garbage(self) -> Sent:
        """Not HTTP the server can answer on a kept connection (it answers and closes)."""
        rng = self.rng
        choices = [
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40),  # a TLS hello
            b"GET /jobs/\xff HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST /jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n",
            b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n",
            b"GET /jobs HTTP/9.9\r\nHost: x\r\n\r\n",
            b"FOO /jobs HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /jobs HTTP/1.1\r\nBad Header\r\n\r\n",
            bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))) + b"\r\n\r\n",
        ]
        return Sent(rng.choice(choices), "", False)


Signer = Callable[[str, str, list[tuple[bytes, bytes]]], list[tuple[bytes, bytes]]]


def sdk_signer(key_id: str, secret: str) -> Signer:
    """Signs as the official SDK does (a fresh nonce each time), over every header sent."""
    counter = iter(range(10**9))

    def sign(method: str, target: str, raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        fields = [
            ("Date", formatdate(time.time(), usegmt=True)),
            ("Accept", "application/json"),
            ("x-acs-access-key-id", key_id),
            ("x-acs-signature-nonce", f"fuzz-{next(counter)}"),
            ("x-acs-signature-method", "HMAC-SHA1"),
            ("x-acs-signature-version", "1.0"),
        ]
        signed = raw + [(n.encode(), v.encode()) for n, v in fields]
        # As the server sees them: the first of a repeated header, all x-acs-* ones.
        view = CIMultiDict((n.decode("latin-1"), v.decode("latin-1")) for n, v in signed)
        text = string_to_sign(method, view, target)
        try:
            authorization = f"acs {key_id}:{signature(secret, text)}".encode()
        except UnicodeEncodeError:  # a non-ASCII header: refused before any signature
            authorization = b"acs x:y"
        return [*signed, (b"Authorization", authorization)]

    return sign


@dataclass(frozen=True)
class Answer:
    sent: Sent
    status: int
    body: bytes


async def _read_answer(reader: asyncio.StreamReader, method: str) -> tuple[int, bytes, bool]:
    """(status, body, whether the connection stays open); 1xx interim answers skipped."""
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip()
        if 100 <= status < 200:
            continue
        length = fields.get(b"content-length")
        keep = fields.get(b"connection", b"").lower() != b"close"
        if method == "HEAD" or status in (204, 304):
            return status, b"", keep
        if length is None:
            return status, await reader.read(), False
        return status, await reader.readexactly(int(length)), keep


async def _exchange(
    port: int, sent: Sent, open_conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None
) -> tuple[int, bytes, tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]:
    """Send one request; answer (status, body, the connection if it stays open).

    A kept connection the server closed after its last answer (as HTTP allows) is retried
    once on a new one; status 0 means the server closed a new connection unanswered.
    """
    for reused in (True, False) if open_conn is not None else (False,):
        reader, writer = (
            open_conn if reused and open_conn else await asyncio.open_connection("127.0.0.1", port)
        )
        try:
            writer.write(sent.data)
            if not sent.is_http:  # the server answers (or not) and closes: end our side too
                writer.write_eof()
            await writer.drain()
            status, body, keep = await _read_answer(reader, sent.method)
        except (asyncio.IncompleteReadError, OSError):
            writer.close()
            continue
        if keep and sent.is_http:
            return status, body, (reader, writer)
        writer.close()
        return status, body, None
    return 0, b"", None


async def _connection(port: int, requests: list[Sent], answers: list[Answer]) -> None:
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    for sent in requests:
        if conn is not None and not sent.is_http:  # garbage goes on a connection of its own
            conn[1].close()
            conn = None
        status, body, conn = await _exchange(port, sent, conn)
        answers.append(Answer(sent, status, body))
    if conn is not None:
        conn[1].close()


def send_all(port: int, requests: list[Sent], connections: int = 8) -> list[Answer]:
    """Every request, spread over `connections` kept-alive connections; every answer."""
    answers: list[Answer] = []
    shares = [requests[i::connections] for i in range(connections)]

    async def main() -> None:
        await asyncio.gather(*(_connection(port, share, answers) for share in shares))

    asyncio.run(main())
    return answers
