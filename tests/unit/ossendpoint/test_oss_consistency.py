"""Body, ETag, Content-Type and user metadata of an object are one set, under racing writers.

50 clients PUT the same key at once, each with its own body, content type and
`x-oss-meta-writer`, while readers GET it in a loop: every answer's ETag is the MD5 of the
body it came with, and its metadata names the writer of that body.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from localbatch.ossendpoint.server import OssEndpoint

WRITERS = 50
READERS = 4


def body_of(writer: int) -> bytes:
    return f"writer {writer:03d};".encode() * (2000 + writer)


def check(response: requests.Response) -> str:
    """'' when the answer is one consistent set, else what is wrong with it."""
    body = response.content
    writer = int(body[7:10])
    expected_etag = hashlib.md5(body).hexdigest().upper()
    problems = []
    if body != body_of(writer):
        problems.append("torn body")
    if response.headers["ETag"].strip('"') != expected_etag:
        problems.append(f"ETag {response.headers['ETag']} is not the MD5 of writer {writer}'s body")
    if response.headers.get("x-oss-meta-writer") != str(writer):
        problems.append(f"meta writer {response.headers.get('x-oss-meta-writer')} != {writer}")
    if response.headers["Content-Type"] != f"text/w{writer}":
        problems.append(f"Content-Type {response.headers['Content-Type']} != text/w{writer}")
    return "; ".join(problems)


def test_racing_writers_never_mix_body_and_attributes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "bkt").mkdir(parents=True)
    with OssEndpoint(root) as endpoint:
        url = f"{endpoint.url}/bkt/contested"
        requests.put(
            url,
            data=body_of(999),
            headers={"x-oss-meta-writer": "999", "Content-Type": "text/w999"},
            timeout=30,
        )
        done = threading.Event()
        problems: list[str] = []
        reads = [0]

        def write(writer: int) -> None:
            headers = {"x-oss-meta-writer": str(writer), "Content-Type": f"text/w{writer}"}
            answer = requests.put(url, data=body_of(writer), headers=headers, timeout=60)
            assert answer.status_code == 200, answer.text
            assert (
                answer.headers["ETag"].strip('"')
                == hashlib.md5(body_of(writer)).hexdigest().upper()
            )

        def read() -> None:
            with requests.Session() as session:
                while not done.is_set():
                    problem = check(session.get(url, timeout=60))
                    reads[0] += 1
                    if problem:
                        problems.append(problem)

        with ThreadPoolExecutor(WRITERS + READERS) as pool:
            readers = [pool.submit(read) for _ in range(READERS)]
            writers = [pool.submit(write, n) for n in range(WRITERS)]
            for future in writers:
                future.result()
            done.set()
            for future in readers:
                future.result()
        final = requests.get(url, timeout=30)
        assert check(final) == ""
        head = requests.head(url, timeout=30)
        assert head.headers["ETag"] == final.headers["ETag"]
        assert head.headers["x-oss-meta-writer"] == final.headers["x-oss-meta-writer"]
    assert reads[0] > 0
    assert problems == [], f"{len(problems)} of {reads[0]} reads inconsistent: {problems[:5]}"
