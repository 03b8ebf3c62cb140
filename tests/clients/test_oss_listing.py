"""Listings through the real oss2: v1 and v2, prefixes, delimiters, paging, buckets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import oss2
import pytest

from tests.clients.oss_support import BUCKET, Served, serve

KEYS = ["a-b", "a/1", "a/2/x", "a/2/y", "a/3", "b", "c/d/e/f", "z/"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


@pytest.fixture
def filled(served: Served) -> oss2.Bucket:
    bucket = served.bucket()
    for key in KEYS:
        bucket.put_object(key, b"" if key.endswith("/") else key.encode())
    return bucket


def test_full_listing_is_in_key_byte_order(filled: oss2.Bucket) -> None:
    # "a-b" sorts before "a/1" ('-' < '/') although directory "a" sorts first by name.
    assert [o.key for o in oss2.ObjectIterator(filled)] == KEYS


def test_listing_entries_carry_size_etag_type(filled: oss2.Bucket) -> None:
    entry = filled.list_objects(prefix="a/1").object_list[0]
    assert (entry.key, entry.size, entry.type, entry.storage_class) == (
        "a/1",
        3,
        "Normal",
        "Standard",
    )
    assert entry.etag == filled.head_object("a/1").etag
    assert entry.last_modified > 0


def test_v1_paging_with_marker(filled: oss2.Bucket) -> None:
    first = filled.list_objects(max_keys=3)
    assert [o.key for o in first.object_list] == KEYS[:3]
    assert first.is_truncated
    assert first.next_marker == KEYS[2]
    rest = filled.list_objects(marker=first.next_marker, max_keys=100)
    assert [o.key for o in rest.object_list] == KEYS[3:]
    assert not rest.is_truncated


def test_v1_delimiter_gives_common_prefixes(filled: oss2.Bucket) -> None:
    top = filled.list_objects(delimiter="/")
    assert [o.key for o in top.object_list] == ["a-b", "b"]
    assert top.prefix_list == ["a/", "c/", "z/"]
    inside = filled.list_objects(prefix="a/", delimiter="/")
    assert [o.key for o in inside.object_list] == ["a/1", "a/3"]
    assert inside.prefix_list == ["a/2/"]


def test_iterator_pages_through_prefixes_and_objects(filled: oss2.Bucket) -> None:
    seen = [o.key for o in oss2.ObjectIterator(filled, delimiter="/", max_keys=1)]
    assert seen == ["a-b", "a/", "b", "c/", "z/"]


def test_other_delimiters_and_partial_prefixes(filled: oss2.Bucket) -> None:
    dashed = filled.list_objects(delimiter="-")
    assert dashed.prefix_list == ["a-"]
    assert "a/1" in [o.key for o in dashed.object_list]
    partial = filled.list_objects(prefix="a/2/")
    assert [o.key for o in partial.object_list] == ["a/2/x", "a/2/y"]
    assert [o.key for o in filled.list_objects(prefix="c/d/e").object_list] == ["c/d/e/f"]
    assert filled.list_objects(prefix="nothing/here/").object_list == []


def test_v2_paging_with_continuation_token(filled: oss2.Bucket) -> None:
    first = filled.list_objects_v2(max_keys=4)
    assert [o.key for o in first.object_list] == KEYS[:4]
    assert first.is_truncated
    second = filled.list_objects_v2(continuation_token=first.next_continuation_token, max_keys=4)
    assert [o.key for o in second.object_list] == KEYS[4:]
    assert not second.is_truncated
    assert [o.key for o in oss2.ObjectIteratorV2(filled, max_keys=2)] == KEYS


def test_v2_start_after_and_delimiter(filled: oss2.Bucket) -> None:
    after = filled.list_objects_v2(start_after="a/3")
    assert [o.key for o in after.object_list] == KEYS[5:]
    top = filled.list_objects_v2(delimiter="/", prefix="a/")
    assert top.prefix_list == ["a/2/"]


def test_empty_directory_on_disk_lists_as_folder_object(served: Served) -> None:
    served.file("made/by/hand").mkdir(parents=True)
    bucket = served.bucket()
    assert [o.key for o in oss2.ObjectIterator(bucket)] == ["made/by/hand/"]
    assert bucket.list_objects(delimiter="/").prefix_list == ["made/"]


def test_bad_max_keys_is_invalid_argument(filled: oss2.Bucket) -> None:
    with pytest.raises(oss2.exceptions.InvalidArgument):
        filled.list_objects(max_keys=5000)


def test_list_buckets_and_bucket_info(served: Served) -> None:
    served.bucket("second-bucket").put_object("x", b"1")  # a write creates the bucket
    (served.root / "Not_A_Bucket").mkdir()  # not a valid bucket name: never listed
    names = [b.name for b in served.service().list_buckets().buckets]
    assert names == ["second-bucket", BUCKET]
    assert [b.name for b in oss2.BucketIterator(served.service(), max_keys=1)] == names
    info = served.bucket().get_bucket_info()
    assert (info.name, info.storage_class, info.acl.grant) == (BUCKET, "Standard", "private")
    assert info.location == "oss-cn-local"
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        served.bucket("absent-bucket").get_bucket_info()


def test_create_and_delete_bucket(served: Served) -> None:
    bucket = served.bucket("made-here")
    bucket.create_bucket()
    assert (served.root / "made-here").is_dir()
    bucket.put_object("k", b"v")
    with pytest.raises(oss2.exceptions.BucketNotEmpty):
        bucket.delete_bucket()
    bucket.delete_object("k")
    bucket.delete_bucket()
    assert not (served.root / "made-here").exists()
