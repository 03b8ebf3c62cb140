"""The endpoint's ETags against values computed here, independently of its code: PutObject
(MD5 of the body), CompleteMultipartUpload (MD5 of the parts' binary MD5s, `-N`),
CopyObject (MD5 of the copied bytes) and AppendObject (derived from the file's stamp)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from localbatch.ossendpoint.server import OssEndpoint
from tests.unit.ossendpoint.oss_http import complete_body, upload_id_of

PART = 100 * 1024  # OSS's smallest part but the last


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "bkt").mkdir()
    with OssEndpoint(tmp_path) as endpoint:
        yield f"{endpoint.url}/bkt"


def etag(response: requests.Response) -> str:
    return response.headers["ETag"].strip('"')


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest().upper()


def test_put_object_etag_is_the_md5_of_the_body(url: str) -> None:
    body = os.urandom(300_000)
    put = requests.put(f"{url}/p", data=body, timeout=10)
    assert etag(put) == md5_hex(body)
    assert etag(requests.head(f"{url}/p", timeout=10)) == md5_hex(body)
    assert etag(requests.put(f"{url}/empty", data=b"", timeout=10)) == md5_hex(b"")


def test_multipart_etag_is_the_md5_of_the_part_md5s(url: str) -> None:
    parts = [os.urandom(PART), os.urandom(PART + 7), b"tail"]
    upload_id = upload_id_of(requests.post(f"{url}/m?uploads", timeout=10))
    listed = []
    for number, data in enumerate(parts, start=1):
        answer = requests.put(f"{url}/m?partNumber={number}&uploadId={upload_id}", data=data)
        assert etag(answer) == md5_hex(data)
        listed.append((number, answer.headers["ETag"]))
    done = requests.post(f"{url}/m?uploadId={upload_id}", data=complete_body(*listed))
    expected = md5_hex(b"".join(hashlib.md5(p).digest() for p in parts)) + f"-{len(parts)}"
    assert etag(done) == expected
    assert f"<ETag>&quot;{expected}&quot;</ETag>" in done.text or expected in done.text
    got = requests.get(f"{url}/m", timeout=10)
    assert etag(got) == expected and got.content == b"".join(parts)


def test_copy_object_etag_is_the_md5_of_the_copied_bytes(url: str) -> None:
    body = os.urandom(50_000)
    requests.put(f"{url}/src", data=body, timeout=10)
    for directive in ("COPY", "REPLACE"):
        headers = {"x-oss-copy-source": "/bkt/src", "x-oss-metadata-directive": directive}
        copied = requests.put(f"{url}/dst-{directive}", headers=headers, timeout=10)
        assert etag(copied) == md5_hex(body)
        assert f"{md5_hex(body)}" in copied.text  # the CopyObjectResult body too
        assert etag(requests.head(f"{url}/dst-{directive}", timeout=10)) == md5_hex(body)


def test_append_etag_is_derived_from_the_grown_file(url: str, tmp_path: Path) -> None:
    path = tmp_path / "bkt" / "a"
    seen = set()
    position = 0
    for chunk in (b"first;", b"second;", b"third"):
        answer = requests.post(f"{url}/a?append&position={position}", data=chunk, timeout=10)
        assert answer.status_code == 200
        position += len(chunk)
        st = os.stat(path)
        expected = hashlib.md5(f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}".encode()).hexdigest()
        assert etag(answer) == expected.upper()
        assert etag(requests.head(f"{url}/a", timeout=10)) == expected.upper()
        seen.add(etag(answer))
    assert len(seen) == 3
    assert path.read_bytes() == b"first;second;third"
