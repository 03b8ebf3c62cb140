"""ossfs (oss2 or aiooss2 underneath; the storage layer uses it) against the endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.oss_support import ACCESS_KEY_ID, ACCESS_KEY_SECRET, BUCKET, Served, serve

ossfs = pytest.importorskip("ossfs")


def _name(path: str) -> str:
    """ossfs names entries `/bucket/key` (folders with a trailing '/')."""
    return path.strip("/")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


@pytest.fixture(params=["OSSFileSystem", "AioOSSFileSystem"])
def fs(served: Served, request: pytest.FixtureRequest) -> ossfs.OSSFileSystem:
    """The synchronous (oss2) and the asynchronous (aiooss2 on aiohttp) file systems."""
    return getattr(ossfs, request.param)(
        endpoint=served.endpoint.url,
        key=ACCESS_KEY_ID,
        secret=ACCESS_KEY_SECRET,
        skip_instance_cache=True,
    )


def test_pipe_cat_info_and_ls(fs: ossfs.OSSFileSystem, served: Served) -> None:
    fs.pipe(f"/{BUCKET}/data/one.txt", b"first")
    fs.pipe(f"/{BUCKET}/data/sub/two.txt", b"second")
    assert served.file("data/one.txt").read_bytes() == b"first"
    assert fs.cat(f"/{BUCKET}/data/one.txt") == b"first"
    info = fs.info(f"/{BUCKET}/data/one.txt")
    assert (info["size"], info["type"]) == (5, "file")
    assert fs.info(f"/{BUCKET}/data")["type"] == "directory"
    listing = fs.ls(f"/{BUCKET}/data", detail=True)
    assert {(_name(e["name"]), e["type"]) for e in listing} == {
        (f"{BUCKET}/data/one.txt", "file"),
        (f"{BUCKET}/data/sub", "directory"),
    }
    # ossfs passes `end` to OSS as an inclusive byte position, so the real service answers
    # four bytes here too.
    assert fs.cat_file(f"/{BUCKET}/data/sub/two.txt", start=1, end=4) == b"econ"


def test_files_written_by_hand_are_visible(fs: ossfs.OSSFileSystem, served: Served) -> None:
    path = served.file("mapped/out.log")
    path.parent.mkdir()
    path.write_text("from a mapping\n")
    assert fs.cat(f"/{BUCKET}/mapped/out.log") == b"from a mapping\n"
    assert fs.exists(f"/{BUCKET}/mapped/out.log")
    assert fs.exists(f"/{BUCKET}/mapped")
    assert not fs.exists(f"/{BUCKET}/mapped/absent")


def test_open_for_write_then_read(fs: ossfs.OSSFileSystem, served: Served) -> None:
    payload = b"0123456789" * 200_000  # 2 MB: more than one buffered block
    with fs.open(f"/{BUCKET}/written.bin", "wb", block_size=5 * 2**20) as handle:
        handle.write(payload[:1_000_000])
        handle.write(payload[1_000_000:])
    assert served.file("written.bin").read_bytes() == payload
    with fs.open(f"/{BUCKET}/written.bin", "rb") as handle:
        handle.seek(1_000_000)
        assert handle.read(10) == payload[1_000_000:1_000_010]


def test_large_write_in_several_blocks(fs: ossfs.OSSFileSystem, served: Served) -> None:
    payload = bytes(range(256)) * (12 * 2**20 // 256)  # 12 MiB, above one 5 MiB block
    with fs.open(f"/{BUCKET}/multi.bin", "wb", block_size=5 * 2**20) as handle:
        handle.write(payload)
    assert served.file("multi.bin").read_bytes() == payload
    # ossfs sends the blocks as appends (AppendObject); the object ends up whole.
    assert served.bucket().head_object("multi.bin").content_length == len(payload)


def test_put_get_find_rm(fs: ossfs.OSSFileSystem, served: Served, tmp_path: Path) -> None:
    local = tmp_path / "local.txt"
    local.write_text("uploaded")
    fs.put(str(local), f"/{BUCKET}/tree/a/local.txt")
    fs.pipe(f"/{BUCKET}/tree/b.txt", b"b")
    found = [_name(name) for name in fs.find(f"/{BUCKET}/tree")]
    assert found == [f"{BUCKET}/tree/a/local.txt", f"{BUCKET}/tree/b.txt"]
    back = tmp_path / "back.txt"
    fs.get(f"/{BUCKET}/tree/a/local.txt", str(back))
    assert back.read_text() == "uploaded"
    fs.rm(f"/{BUCKET}/tree/b.txt")
    assert not served.file("tree/b.txt").exists()
    fs.rm(f"/{BUCKET}/tree", recursive=True)
    assert not served.file("tree").exists()
    assert fs.ls(f"/{BUCKET}") == []


def test_copy_and_move(fs: ossfs.OSSFileSystem, served: Served) -> None:
    fs.pipe(f"/{BUCKET}/src.txt", b"content")
    fs.copy(f"/{BUCKET}/src.txt", f"/{BUCKET}/dst.txt")
    assert served.file("dst.txt").read_bytes() == b"content"
    fs.mv(f"/{BUCKET}/dst.txt", f"/{BUCKET}/moved.txt")
    assert not served.file("dst.txt").exists()
    assert served.file("moved.txt").read_bytes() == b"content"


def test_list_buckets(fs: ossfs.OSSFileSystem) -> None:
    assert [_name(entry["name"]) for entry in fs.ls("/", detail=True)] == [BUCKET]
