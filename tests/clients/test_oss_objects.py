"""Object operations through the real oss2: put, get (ranges), head, meta, delete, copy."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import oss2
import pytest

from tests.clients.oss_support import BUCKET, Served, serve


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


def test_put_then_get_returns_bytes_md5_etag_and_user_meta(served: Served) -> None:
    bucket = served.bucket()
    result = bucket.put_object("dir/a.txt", b"hello world", headers={"x-oss-meta-Owner": "me"})
    assert result.etag == hashlib.md5(b"hello world").hexdigest().upper()
    fetched = bucket.get_object("dir/a.txt")
    assert fetched.read() == b"hello world"
    assert fetched.etag == result.etag
    assert fetched.headers["x-oss-meta-owner"] == "me"
    assert served.file("dir/a.txt").read_bytes() == b"hello world"


def test_get_with_byte_ranges(served: Served) -> None:
    bucket = served.bucket()
    bucket.put_object("r.bin", bytes(range(100)))
    part = bucket.get_object("r.bin", byte_range=(10, 19))
    assert part.status == 206
    assert part.read() == bytes(range(10, 20))
    assert bucket.get_object("r.bin", byte_range=(90, None)).read() == bytes(range(90, 100))
    assert bucket.get_object("r.bin", byte_range=(None, 5)).read() == bytes(range(95, 100))
    # A range past the end: OSS answers the whole object unless asked for standard behaviour.
    assert bucket.get_object("r.bin", byte_range=(500, 600)).read() == bytes(range(100))
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        bucket.get_object(
            "r.bin", byte_range=(500, 600), headers={"x-oss-range-behavior": "standard"}
        )
    assert (caught.value.status, caught.value.code) == (416, "InvalidRange")


def test_head_and_object_meta(served: Served) -> None:
    bucket = served.bucket()
    bucket.put_object("h.json", b"{}", headers={"Content-Type": "application/json"})
    head = bucket.head_object("h.json")
    assert (head.content_length, head.content_type, head.object_type) == (
        2,
        "application/json",
        "Normal",
    )
    meta = bucket.get_object_meta("h.json")
    assert meta.content_length == 2
    assert meta.etag == hashlib.md5(b"{}").hexdigest().upper()
    assert bucket.object_exists("h.json")
    assert not bucket.object_exists("missing.json")


def test_plain_file_written_by_hand_is_served_with_derived_etag(served: Served) -> None:
    path = served.file("by-hand/data.csv")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"a,b\n")
    bucket = served.bucket()
    head = bucket.head_object("by-hand/data.csv")
    assert head.content_length == 4
    assert head.content_type == "text/csv"
    assert len(head.etag) == 32
    assert bucket.get_object("by-hand/data.csv").read() == b"a,b\n"
    # Overwriting the file by hand invalidates what the endpoint recorded about it.
    bucket.put_object("by-hand/data.csv", b"x", headers={"x-oss-meta-k": "v"})
    path.write_bytes(b"replaced")
    head = bucket.head_object("by-hand/data.csv")
    assert head.content_length == 8
    assert "x-oss-meta-k" not in head.headers


def test_delete_object_removes_file_and_empty_parents(served: Served) -> None:
    bucket = served.bucket()
    bucket.put_object("deep/er/x", b"1")
    bucket.delete_object("deep/er/x")
    assert not served.file("deep").exists()
    assert served.file("").is_dir()
    bucket.delete_object("never-existed")  # deleting a missing key succeeds, as on OSS


def test_batch_delete(served: Served) -> None:
    bucket = served.bucket()
    for key in ("k1", "k2", "k 3+"):
        bucket.put_object(key, b"x")
    result = bucket.batch_delete_objects(["k1", "k 3+", "absent"])
    assert sorted(result.deleted_keys) == ["absent", "k 3+", "k1"]
    assert [o.key for o in oss2.ObjectIterator(bucket)] == ["k2"]


def test_copy_object_keeps_or_replaces_metadata(served: Served) -> None:
    bucket = served.bucket()
    bucket.put_object("src", b"payload", headers={"x-oss-meta-a": "1", "Content-Type": "text/x-a"})
    bucket.copy_object(BUCKET, "src", "copy-kept")
    kept = bucket.head_object("copy-kept")
    assert (kept.headers["x-oss-meta-a"], kept.content_type) == ("1", "text/x-a")
    bucket.copy_object(
        BUCKET,
        "src",
        "copy-new",
        headers={"x-oss-metadata-directive": "REPLACE", "x-oss-meta-b": "2"},
    )
    replaced = bucket.head_object("copy-new")
    assert "x-oss-meta-a" not in replaced.headers
    assert replaced.headers["x-oss-meta-b"] == "2"
    assert bucket.get_object("copy-new").read() == b"payload"


def test_content_md5_mismatch_is_refused_and_nothing_written(served: Served) -> None:
    bucket = served.bucket()
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(oss2.exceptions.InvalidDigest):
        bucket.put_object("md5", b"data", headers={"Content-MD5": wrong})
    assert not served.file("md5").exists()
    right = base64.b64encode(hashlib.md5(b"data").digest()).decode()
    bucket.put_object("md5", b"data", headers={"Content-MD5": right})
    assert served.file("md5").read_bytes() == b"data"


def test_missing_key_and_bucket_errors_carry_request_ids(served: Served) -> None:
    with pytest.raises(oss2.exceptions.NoSuchKey) as caught:
        served.bucket().get_object("nope")
    assert len(caught.value.request_id) == 24
    with pytest.raises(oss2.exceptions.NotFound):
        served.bucket().head_object("nope")
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        served.bucket("no-such-bucket").get_object("x")


def test_keys_leaving_the_bucket_are_refused(served: Served) -> None:
    bucket = served.bucket()
    for key in ("../escape", "a/../../escape", "a//b"):
        with pytest.raises(oss2.exceptions.ServerError) as caught:
            bucket.put_object(key, b"x")
        assert caught.value.code == "InvalidObjectName"
    assert not (served.root / "escape").exists()


def test_folder_object_is_an_empty_directory(served: Served) -> None:
    bucket = served.bucket()
    bucket.put_object("folder/", b"")
    assert served.file("folder").is_dir()
    assert bucket.head_object("folder/").content_length == 0
    assert [o.key for o in oss2.ObjectIterator(bucket)] == ["folder/"]


def test_unhonoured_headers_are_reported_once(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = served.bucket()
    with caplog.at_level("WARNING", logger="localbatch.ossendpoint"):
        bucket.put_object("acl1", b"x", headers={"x-oss-object-acl": "public-read"})
        bucket.put_object("acl2", b"x", headers={"x-oss-object-acl": "public-read"})
    reports = [r for r in caplog.records if "x-oss-object-acl" in r.getMessage()]
    assert len(reports) == 1
    assert served.file("acl2").read_bytes() == b"x"


def test_chunked_upload_of_unknown_length(served: Served) -> None:
    def pieces() -> Iterator[bytes]:
        for n in range(50):
            yield bytes([n]) * 10_000

    served.bucket().put_object("streamed", pieces())
    assert served.file("streamed").read_bytes() == b"".join(bytes([n]) * 10_000 for n in range(50))
