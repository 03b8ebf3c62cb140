"""Hostile or unlucky requests get the service's 4xx and leave nothing behind: refused
uploads, too-long keys, a part racing its abort, undecodable headers, clients hanging up,
and what killed writers left in the temporary directory."""

from __future__ import annotations

import gzip
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from localbatch import owner
from localbatch.ossendpoint.server import OssEndpoint
from localbatch.tempfiles import TEMPORARY_PREFIX, temporary_name
from tests.unit.ossendpoint.oss_http import complete_body, upload_id_of


@dataclass
class Served:
    url: str
    port: int
    root: Path

    @property
    def temp_dir(self) -> Path:
        return self.root / ".localbatch-meta" / "tmp"

    def leftovers(self) -> list[str]:
        meta = self.root / ".localbatch-meta"
        found = [p for d in ("tmp", "uploads") for p in (meta / d).glob("*")]
        return sorted(str(p.relative_to(meta)) for p in found)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    root = tmp_path / "root"
    (root / "bkt").mkdir(parents=True)
    with OssEndpoint(root) as endpoint:
        yield Served(endpoint.url, endpoint.port, root)


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition not reached within 10s"
        time.sleep(0.01)


def read_answer(connection: socket.socket) -> str:
    """One whole error answer (head and XML body) from a raw connection."""
    answer = b""
    while b"</Error>" not in answer:
        chunk = connection.recv(65536)
        assert chunk, answer
        answer += chunk
    return answer.decode()


def code_of(response: requests.Response) -> str:
    return response.text.split("<Code>")[1].split("<")[0] if "<Code>" in response.text else ""


def test_refused_uploads_leave_no_temporary_data(served: Served) -> None:
    body = b"x" * 300_000
    bad_bucket = requests.put(f"{served.url}/Bad_Bucket/k", data=body, timeout=10)
    assert (bad_bucket.status_code, code_of(bad_bucket)) == (400, "InvalidBucketName")
    long_key = "a/" + "s" * 300 + "/k"
    too_long = requests.put(f"{served.url}/bkt/{long_key}", data=body, timeout=10)
    assert (too_long.status_code, code_of(too_long)) == (400, "InvalidObjectName")
    assert "255 bytes" in too_long.text
    bad_md5 = requests.put(f"{served.url}/bkt/k", data=body, headers={"Content-MD5": "AAAA"})
    assert (bad_md5.status_code, code_of(bad_md5)) == (400, "InvalidDigest")
    over_dir = requests.put(f"{served.url}/bkt/d/", data=b"bytes", timeout=10)
    assert over_dir.status_code == 400
    assert served.leftovers() == []


@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE"])
def test_a_too_long_segment_is_invalid_object_name_everywhere(served: Served, method: str) -> None:
    answer = requests.request(method, f"{served.url}/bkt/{'x' * 300}", timeout=10)
    assert answer.status_code == 400
    assert answer.headers["x-oss-ec"] == "InvalidObjectName"


def test_a_part_racing_its_abort_is_no_such_upload(served: Served) -> None:
    start = requests.post(f"{served.url}/bkt/big?uploads", timeout=10)
    upload_id = upload_id_of(start)
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as connection:
        head = (
            f"PUT /bkt/big?partNumber=1&uploadId={upload_id} HTTP/1.1\r\nHost: h\r\n"
            "Content-Length: 200000\r\n\r\n"
        ).encode()
        connection.sendall(head + b"p" * 100_000)
        wait_for(lambda: any(served.temp_dir.glob(f"{TEMPORARY_PREFIX}*")))  # part under way
        abort = requests.delete(f"{served.url}/bkt/big?uploadId={upload_id}", timeout=10)
        assert abort.status_code == 204
        connection.sendall(b"p" * 100_000)
        answer = read_answer(connection)
    assert answer.startswith("HTTP/1.1 404"), answer
    assert "<Code>NoSuchUpload</Code>" in answer
    assert served.leftovers() == []
    again = requests.post(f"{served.url}/bkt/big?uploadId={upload_id}", data=b"<x/>")
    assert (again.status_code, code_of(again)) == (404, "NoSuchUpload")


def test_complete_then_part_and_second_complete_are_no_such_upload(served: Served) -> None:
    start = requests.post(f"{served.url}/bkt/m?uploads", timeout=10)
    upload_id = upload_id_of(start)
    part = requests.put(f"{served.url}/bkt/m?partNumber=1&uploadId={upload_id}", data=b"one")
    body = complete_body((1, part.headers["ETag"]))
    done = requests.post(f"{served.url}/bkt/m?uploadId={upload_id}", data=body, timeout=10)
    assert done.status_code == 200
    late = requests.put(f"{served.url}/bkt/m?partNumber=2&uploadId={upload_id}", data=b"two")
    assert (late.status_code, code_of(late)) == (404, "NoSuchUpload")
    twice = requests.post(f"{served.url}/bkt/m?uploadId={upload_id}", data=body, timeout=10)
    assert (twice.status_code, code_of(twice)) == (404, "NoSuchUpload")
    assert served.leftovers() == []


def test_a_failed_complete_leaves_the_upload_open(served: Served) -> None:
    start = requests.post(f"{served.url}/bkt/m?uploads", timeout=10)
    upload_id = upload_id_of(start)
    requests.put(f"{served.url}/bkt/m?partNumber=1&uploadId={upload_id}", data=b"one")
    wrong = complete_body((1, '"00000000000000000000000000000000"'))
    failed = requests.post(f"{served.url}/bkt/m?uploadId={upload_id}", data=wrong, timeout=10)
    assert (failed.status_code, code_of(failed)) == (400, "InvalidPart")
    listed = requests.get(f"{served.url}/bkt/m?uploadId={upload_id}", timeout=10)
    assert listed.status_code == 200 and "<PartNumber>1</PartNumber>" in listed.text


def test_undecodable_header_values_are_invalid_argument(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as connection:
        connection.sendall(
            b"PUT /bkt/k HTTP/1.1\r\nHost: h\r\nx-oss-meta-name: caf\xe9\xff\r\n"
            b"Content-Length: 1\r\n\r\nx"
        )
        answer = read_answer(connection)
    assert answer.startswith("HTTP/1.1 400"), answer
    assert "<Code>InvalidArgument</Code>" in answer
    assert not (served.root / "bkt" / "k").exists()


def test_a_body_is_stored_as_sent_whatever_its_content_encoding(served: Served) -> None:
    """Content-Encoding describes the object (OSS stores it and answers it on GET); the
    endpoint neither decompresses nor refuses a body that is not what it says."""
    for body in (gzip.compress(b"zipped"), b"not gzip at all"):
        headers = {"Content-Encoding": "gzip"}
        put = requests.put(f"{served.url}/bkt/z", data=body, headers=headers, timeout=10)
        assert put.status_code == 200
        assert (served.root / "bkt" / "z").read_bytes() == body
        got = requests.get(f"{served.url}/bkt/z", timeout=10, stream=True)
        assert got.headers["Content-Encoding"] == "gzip"
        assert got.raw.read() == body


def test_clients_hanging_up_are_not_logged_as_tracebacks(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    (served.root / "bkt" / "big").write_bytes(os.urandom(8 << 20))
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as connection:
            connection.sendall(b"GET /bkt/big HTTP/1.1\r\nHost: h\r\n\r\n")
            connection.recv(1000)  # then hang up mid-body
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as connection:
            connection.sendall(b"PUT /bkt/cut HTTP/1.1\r\nHost: h\r\nContent-Length: 99999\r\n\r\n")
            connection.sendall(b"x" * 5000)
    wait_for(lambda: not any(served.temp_dir.glob("*")))
    time.sleep(0.2)  # let the server notice the last hang-up
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert tracebacks == []
    assert not (served.root / "bkt" / "cut").exists()


def _dead_tag() -> str:
    process = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return f"{process.stdout.strip()}-123.0"


def test_start_up_sweeps_what_dead_writers_left(tmp_path: Path) -> None:
    root = tmp_path / "root"
    temp_dir = root / ".localbatch-meta" / "tmp"
    uploads = root / ".localbatch-meta" / "uploads"
    temp_dir.mkdir(parents=True)
    uploads.mkdir(parents=True)
    dead = f"{TEMPORARY_PREFIX}{_dead_tag()}-{'0' * 32}"
    (temp_dir / dead).write_bytes(b"half an upload")
    (uploads / dead).mkdir()  # an upload a killed completion had claimed
    (uploads / dead / "part-00001").write_bytes(b"p")
    mine = temporary_name()
    (temp_dir / mine).write_bytes(b"this process is writing it")
    unknown = temp_dir / "not-ours"
    unknown.write_bytes(b"")
    assert owner.alive(owner.this_process()) and not owner.alive(_dead_tag())
    with OssEndpoint(root):
        pass
    assert sorted(p.name for p in temp_dir.iterdir()) == sorted([mine, "not-ours"])
    assert list(uploads.iterdir()) == []


def test_get_with_object_meta_reads_the_object(served: Served) -> None:
    """GetObjectMeta is a HEAD; a GET naming `objectMeta` once announced a length it never
    sent, and its client hung."""
    requests.put(f"{served.url}/bkt/k", data=b"body", timeout=10)
    assert requests.get(f"{served.url}/bkt/k?objectMeta", timeout=10).content == b"body"
    head = requests.head(f"{served.url}/bkt/k?objectMeta", timeout=10)
    assert head.headers["Content-Length"] == "4" and "x-oss-object-type" not in head.headers
