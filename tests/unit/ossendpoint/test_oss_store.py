"""The on-disk store: atomic publication, sidecar metadata, folders, refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from localbatch.ossendpoint.errors import OssError
from localbatch.ossendpoint.listing import ListQuery, iter_listing
from localbatch.ossendpoint.metadata import ObjectMeta
from localbatch.ossendpoint.naming import check_key
from localbatch.ossendpoint.store import ObjectStore


def put(store: ObjectStore, key: str, data: bytes, **meta: object) -> None:
    writer = store.new_writer()
    writer.write(data)
    store.publish("bkt", key, writer, ObjectMeta(etag=writer.etag, **meta))  # type: ignore[arg-type]


def test_nothing_is_visible_before_publish(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    store.ensure_bucket("bkt")
    writer = store.new_writer()
    writer.write(b"half")
    assert not (tmp_path / "bkt" / "k").exists()
    assert list((tmp_path / "bkt").iterdir()) == []
    writer.discard()
    assert list(store.temp_dir.iterdir()) == []


def test_metadata_follows_the_file_version(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    put(store, "k.bin", b"abc", content_type="x/y", user_meta={"x-oss-meta-a": "1"})
    info = store.stat("bkt", "k.bin")
    assert (info.meta.content_type, dict(info.meta.user_meta)) == ("x/y", {"x-oss-meta-a": "1"})
    (tmp_path / "bkt" / "k.bin").write_bytes(b"changed by a mapping")
    info = store.stat("bkt", "k.bin")
    assert info.meta.content_type == "application/octet-stream"
    assert info.meta.user_meta == {}
    assert info.size == len(b"changed by a mapping")


def test_derived_etag_changes_when_the_file_does(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    path = tmp_path / "bkt" / "plain.txt"
    path.parent.mkdir()
    path.write_text("one")
    first = store.stat("bkt", "plain.txt").meta.etag
    assert store.stat("bkt", "plain.txt").meta.etag == first
    path.write_text("two!")
    assert store.stat("bkt", "plain.txt").meta.etag != first


def test_file_and_directory_clashes_are_refused(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    put(store, "a/b", b"1")
    with pytest.raises(OssError) as caught:
        put(store, "a", b"2")  # "a" is a directory holding a/b
    assert caught.value.code == "InvalidObjectName"
    with pytest.raises(OssError):
        put(store, "a/b/c", b"3")  # a/b is a file
    assert (tmp_path / "bkt" / "a" / "b").read_bytes() == b"1"
    assert list(store.temp_dir.iterdir()) == []


def test_folder_with_bytes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OssError):
        put(ObjectStore(tmp_path), "folder/", b"not empty")


def test_delete_prunes_empty_parents_but_keeps_folders(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    put(store, "kept/", b"")
    put(store, "kept/x/y", b"1")
    store.delete("bkt", "kept/x/y")
    assert (tmp_path / "bkt" / "kept").is_dir()
    assert not (tmp_path / "bkt" / "kept" / "x").exists()


def test_missing_bucket_and_key(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    with pytest.raises(OssError) as caught:
        store.stat("nobkt", "k")
    assert caught.value.code == "NoSuchBucket"
    store.ensure_bucket("bkt")
    os.mkfifo(tmp_path / "bkt" / "fifo")
    for key in ("k", "fifo", "k/"):
        with pytest.raises(OssError) as caught:
            store.stat("bkt", key)
        assert caught.value.code == "NoSuchKey"


@pytest.mark.parametrize(
    "key", ["", "/abs", "a//b", "../up", "a/./b", "a/../b", "nul\x00", "x" * 1024]
)
def test_unstorable_keys(key: str) -> None:
    with pytest.raises(OssError) as caught:
        check_key(key)
    assert caught.value.code == "InvalidObjectName"


def test_invalid_bucket_names(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    for name in ("ab", "Upper", "-dash", ".localbatch-meta", "under_score"):
        with pytest.raises(OssError) as caught:
            store.require_bucket(name)
        assert caught.value.code == "InvalidBucketName"


def test_listing_stops_at_a_symbolic_link_loop(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    put(store, "d/file", b"1")
    (tmp_path / "bkt" / "d" / "loop").symlink_to(tmp_path / "bkt")
    keys = [
        item.key for item in iter_listing(store, "bkt", ListQuery()) if not isinstance(item, str)
    ]
    assert keys == ["d/file"]


def test_records_of_displaced_versions_are_pruned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ObjectStore(tmp_path)
    for n in range(3):
        put(store, "k", f"version {n}".encode(), content_type=f"x/{n}")
    key_dir = store.metadata._dir("bkt", "k")
    assert len(list(key_dir.iterdir())) == 3  # displaced moments ago: a reader may want them
    monkeypatch.setattr("localbatch.ossendpoint.metadata.PRUNE_AFTER", -1.0)
    put(store, "k", b"last", content_type="x/last")
    assert len(list(key_dir.iterdir())) == 1
    assert store.stat("bkt", "k").meta.content_type == "x/last"
    store.delete("bkt", "k")
    assert not key_dir.exists()
