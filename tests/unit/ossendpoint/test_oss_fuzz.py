"""A seeded, bounded fuzz of the OSS endpoint: 20,000 malformed requests, no 5xx.

Requests are built from hostile pieces (bad bucket names and keys, `..`, NUL, over-long
segments, junk sub-resources and numbers, undecodable and contradictory headers, broken
XML and bodies that are not what their Content-Encoding says) mixed with valid operations
that create state (objects, uploads, links leading out of the bucket), over keep-alive
connections to a real endpoint, so aiohttp's parser, the routing and the file-system code
all see them. The one 5xx allowed is 501 NotImplemented, the service's own answer for a
sub-resource the endpoint does not implement. No request may log a traceback either.
"""

from __future__ import annotations

import http.client
import logging
import random
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from localbatch.ossendpoint.server import OssEndpoint

SEED = 20261202
#: Requests per endpoint: unsigned (most code paths) and verifying signatures.
UNSIGNED, SIGNED = 16_000, 4_000

METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH")
BUCKETS = ("bkt", "bkt", "bkt", "nobucket", "Bad_Bucket", "b", "x" * 70, "%ff", "bkt%00", "-a-")
SEGMENTS = (
    "a", "b", "dir", "lnk", "lnk/secret", "..", ".", "", "x" * 300, "%00", "%ff", "%c3%28",
    "%ed%a0%80", "\u00fc", "%2e%2e", "a%2fb", "file-lnk", "%", "%zz", "~", "*", "?",
)  # fmt: skip
NUMBERS = ("", "0", "1", "-1", "10001", "99999999999999999999999", "abc", "1.5", " 2", "0x10")
PARAMS = (
    "uploads", "uploadId", "partNumber", "append", "position", "max-keys", "marker", "prefix",
    "delimiter", "encoding-type", "list-type", "continuation-token", "start-after",
    "objectMeta", "delete", "bucketInfo", "location", "response-content-type", "acl",
    "max-parts", "part-number-marker", "security-token",
)  # fmt: skip
HEADERS = (
    "Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
    "x-oss-copy-source", "x-oss-copy-source-range", "Content-MD5", "Content-Type",
    "x-oss-meta-a", "Content-Encoding", "x-oss-forbid-overwrite", "x-oss-metadata-directive",
    "Authorization", "Date", "x-oss-date", "x-oss-complete-all", "x-oss-range-behavior",
    "Cache-Control", "x-oss-copy-source-if-match", "Host",
)  # fmt: skip
VALUES = (
    "", "bytes=0-0", "bytes=5-1", "bytes=-0", "bytes=0-99999999999999999999", "bytes=a-b",
    "*", '"abc"', "Thu, 01 Jan 1970 00:00:00 GMT", "yesterday", "/bkt/a", "/bkt/../x",
    "/bkt/lnk/secret", "/%ff/%00", "/", "AAAA", "gzip", "deflate", "br", "x-unknown",
    "true", "COPY", "REPLACE", "bogus", "OSS id:sig", "OSS", "OSS4-HMAC-SHA256 x", "yes",
    "standard", "ab\u00e9", "\u4e2d\u6587", "x" * 5000, "bkt.oss-cn-local.aliyuncs.com",
)  # fmt: skip
BODIES = (
    b"",
    b"<Delete><Object><Key>a</Key></Object></Delete>",
    b"<Delete><Quiet>maybe</Quiet><Object><Key></Key></Object></Delete>",
    b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part>",
    b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>z</ETag></Part>"
    b"</CompleteMultipartUpload>",
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;'
    b'&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><Delete><Object><Key>&c;</Key>'
    b"</Object></Delete>",
    b"\x1f\x8b\x08\x00garbage",
    b"\xff\xfe\x00\x00",
)


def _query(rng: random.Random) -> str:
    parts = []
    for name in rng.sample(PARAMS, rng.choice((0, 0, 1, 2, 3))):
        value = rng.choice((*NUMBERS, *VALUES[:6], "url", "2", "Zm9v", "!!"))
        parts.append(name if rng.random() < 0.3 else f"{name}={value}")
    return "&".join(parts)


def _request(rng: random.Random, upload_ids: list[str]) -> tuple[str, str, dict[str, str], bytes]:
    method = rng.choice(METHODS)
    bucket = rng.choice(BUCKETS)
    key = "/".join(rng.choice(SEGMENTS) for _ in range(rng.choice((0, 1, 1, 2, 3))))
    query = _query(rng)
    if upload_ids and rng.random() < 0.15:
        query = f"uploadId={rng.choice(upload_ids)}&partNumber={rng.choice(NUMBERS)}"
    target = quote(f"/{bucket}/{key}" + (f"?{query}" if query else ""), safe="/?&=%:~*!")
    headers = {name: rng.choice(VALUES) for name in rng.sample(HEADERS, rng.choice((0, 1, 2, 4)))}
    body = rng.choice(BODIES) if rng.random() < 0.7 else rng.randbytes(rng.randrange(3000))
    return method, target, headers, body


class Client:
    """Keep-alive connections that are opened again whenever the server closes one."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection: http.client.HTTPConnection | None = None

    def send(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str]:
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection = self.connection
        try:
            connection.putrequest(method, target, skip_host="Host" in headers)
            for name, value in headers.items():
                connection.putheader(name, value.encode("utf-8"))
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            response.read()
            code = response.getheader("x-oss-ec", "")
            if response.will_close:
                self.close()
            return response.status, code
        except (http.client.HTTPException, OSError):
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def _setup(root: Path) -> None:
    (root / "bkt" / "dir").mkdir(parents=True)
    (root / "outside").mkdir()
    (root / "outside" / "secret").write_text("host secret")
    (root / "bkt" / "a").write_text("a")
    (root / "bkt" / "lnk").symlink_to(root / "outside")
    (root / "bkt" / "file-lnk").symlink_to(root / "outside" / "secret")


@pytest.fixture
def quiet_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.WARNING)
    yield caplog


def _fuzz(endpoint: OssEndpoint, rng: random.Random, count: int) -> list[str]:
    client = Client(endpoint.port)
    upload_ids: list[str] = []
    failures = []
    for number in range(count):
        if number % 500 == 0:  # some real state for the malformed requests to meet
            client.send("PUT", f"/bkt/obj{number}", {}, b"x" * 10)
            client.send("POST", "/bkt/dir/up?uploads", {}, b"")
        method, target, headers, body = _request(rng, upload_ids)
        try:
            status, code = client.send(method, target, headers, body)
        except http.client.HTTPException as exc:
            status, code = 0, type(exc).__name__  # the server closed on an unparsable request
        except OSError as exc:
            failures.append(f"{method} {target!r} {headers}: connection failed: {exc}")
            continue
        if status >= 500 and not (status == 501 and code == "NotImplemented"):
            failures.append(f"{method} {target!r} {headers} body={body[:40]!r}: {status} {code}")
    client.close()
    return failures


def test_twenty_thousand_malformed_requests_get_no_5xx(
    tmp_path: Path, quiet_logs: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(SEED)
    _setup(tmp_path)
    with OssEndpoint(tmp_path) as endpoint:
        failures = _fuzz(endpoint, rng, UNSIGNED)
    with OssEndpoint(tmp_path, access_key_id="id", access_key_secret="secret") as endpoint:
        failures += _fuzz(endpoint, rng, SIGNED)
    assert failures == [], f"{len(failures)} requests got a 5xx, e.g.:\n" + "\n".join(failures[:10])
    tracebacks = [r for r in quiet_logs.records if r.exc_info or r.levelno >= logging.ERROR]
    assert tracebacks == [], [r.getMessage() for r in tracebacks[:5]]
    assert (tmp_path / "outside" / "secret").read_text() == "host secret"
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["secret"]
