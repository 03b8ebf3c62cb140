"""Multipart uploads and appends through the real oss2 (including its resumable upload)."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import oss2
import pytest
from oss2.models import PartInfo

from tests.clients.oss_support import Served, serve

PART = 100 * 1024  # OSS's smallest part (all but the last)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


def test_multipart_upload_list_parts_complete(served: Served) -> None:
    bucket = served.bucket()
    upload_id = bucket.init_multipart_upload("mp/obj.bin", headers={"x-oss-meta-m": "1"}).upload_id
    data = [os.urandom(PART), os.urandom(PART), b"tail"]
    results = [bucket.upload_part("mp/obj.bin", upload_id, n + 1, d) for n, d in enumerate(data)]
    listed = bucket.list_parts("mp/obj.bin", upload_id).parts
    assert [(p.part_number, p.size) for p in listed] == [(1, PART), (2, PART), (3, 4)]
    assert [p.etag for p in listed] == [r.etag for r in results]
    # Nothing is visible until completion; listings never show the parts.
    assert [o.key for o in oss2.ObjectIterator(bucket)] == []
    parts = [PartInfo(n + 1, r.etag) for n, r in enumerate(results)]
    done = bucket.complete_multipart_upload("mp/obj.bin", upload_id, parts)
    digests = b"".join(hashlib.md5(d).digest() for d in data)
    assert done.etag == hashlib.md5(digests).hexdigest().upper() + "-3"
    head = bucket.head_object("mp/obj.bin")
    assert (head.object_type, head.headers["x-oss-meta-m"]) == ("Multipart", "1")
    assert served.file("mp/obj.bin").read_bytes() == b"".join(data)
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.list_parts("mp/obj.bin", upload_id)


def test_complete_with_a_subset_and_wrong_etags(served: Served) -> None:
    bucket = served.bucket()
    upload_id = bucket.init_multipart_upload("sub").upload_id
    first = bucket.upload_part("sub", upload_id, 1, b"a" * PART)
    bucket.upload_part("sub", upload_id, 2, b"never used")
    third = bucket.upload_part("sub", upload_id, 3, b"end")
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        bucket.complete_multipart_upload("sub", upload_id, [PartInfo(1, "0" * 32)])
    assert caught.value.code == "InvalidPart"
    bucket.complete_multipart_upload(
        "sub", upload_id, [PartInfo(1, first.etag), PartInfo(3, third.etag)]
    )
    assert bucket.get_object("sub").read() == b"a" * PART + b"end"


def test_small_middle_part_is_refused(served: Served) -> None:
    bucket = served.bucket()
    upload_id = bucket.init_multipart_upload("small").upload_id
    parts = [PartInfo(n, bucket.upload_part("small", upload_id, n, b"x").etag) for n in (1, 2)]
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        bucket.complete_multipart_upload("small", upload_id, parts)
    assert caught.value.code == "EntityTooSmall"


def test_abort_removes_the_upload(served: Served) -> None:
    bucket = served.bucket()
    upload_id = bucket.init_multipart_upload("gone").upload_id
    bucket.upload_part("gone", upload_id, 1, b"data")
    assert [u.upload_id for u in oss2.MultipartUploadIterator(bucket)] == [upload_id]
    bucket.abort_multipart_upload("gone", upload_id)
    assert list(oss2.MultipartUploadIterator(bucket)) == []
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.upload_part("gone", upload_id, 2, b"late")
    assert not served.file("gone").exists()


def test_upload_part_copy(served: Served) -> None:
    bucket = served.bucket()
    source = os.urandom(3 * PART)
    bucket.put_object("source", source)
    upload_id = bucket.init_multipart_upload("copied").upload_id
    first = bucket.upload_part_copy("test-bucket", "source", (0, PART - 1), "copied", upload_id, 1)
    second = bucket.upload_part_copy(
        "test-bucket", "source", (PART, 3 * PART - 1), "copied", upload_id, 2
    )
    bucket.complete_multipart_upload(
        "copied", upload_id, [PartInfo(1, first.etag), PartInfo(2, second.etag)]
    )
    assert bucket.get_object("copied").read() == source


def test_resumable_upload_uses_multipart_for_large_files(served: Served, tmp_path: Path) -> None:
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(3 * PART + 17))
    bucket = served.bucket()
    store = oss2.ResumableStore(root=str(tmp_path / "resume"))
    oss2.resumable_upload(
        bucket,
        "resumed.bin",
        str(local),
        store=store,
        multipart_threshold=PART,
        part_size=PART,
        num_threads=2,
    )
    assert bucket.head_object("resumed.bin").object_type == "Multipart"
    assert served.file("resumed.bin").read_bytes() == local.read_bytes()
    target = tmp_path / "back.bin"
    oss2.resumable_download(
        bucket,
        "resumed.bin",
        str(target),
        multiget_threshold=PART,
        part_size=PART,
        num_threads=2,
        store=oss2.ResumableDownloadStore(root=str(tmp_path / "dl")),
    )
    assert target.read_bytes() == local.read_bytes()


def test_append_object_grows_in_place(served: Served) -> None:
    bucket = served.bucket()
    first = bucket.append_object("log.txt", 0, b"one\n", headers={"Content-Type": "text/plain"})
    assert first.next_position == 4
    second = bucket.append_object("log.txt", first.next_position, b"two\n")
    assert second.next_position == 8
    head = bucket.head_object("log.txt")
    assert (head.object_type, head.content_type, head.content_length) == (
        "Appendable",
        "text/plain",
        8,
    )
    assert served.file("log.txt").read_bytes() == b"one\ntwo\n"
    assert [o.type for o in bucket.list_objects().object_list] == ["Appendable"]


def test_append_position_and_type_errors(served: Served) -> None:
    bucket = served.bucket()
    bucket.append_object("app", 0, b"abc")
    with pytest.raises(oss2.exceptions.PositionNotEqualToLength) as caught:
        bucket.append_object("app", 1, b"x")
    assert caught.value.headers["x-oss-next-append-position"] == "3"
    with pytest.raises(oss2.exceptions.PositionNotEqualToLength):
        bucket.append_object("new", 5, b"x")
    bucket.put_object("normal", b"abc")
    with pytest.raises(oss2.exceptions.ObjectNotAppendable):
        bucket.append_object("normal", 3, b"x")
    assert served.file("app").read_bytes() == b"abc"


def test_append_content_md5_mismatch_leaves_object_unchanged(served: Served) -> None:
    bucket = served.bucket()
    bucket.append_object("checked", 0, b"abc")
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(oss2.exceptions.InvalidDigest):
        bucket.append_object("checked", 3, b"def", headers={"Content-MD5": wrong})
    assert served.file("checked").read_bytes() == b"abc"
    assert bucket.append_object("checked", 3, b"def").next_position == 6
