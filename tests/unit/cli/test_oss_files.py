"""`localbatch oss ls|cat|cp` on the local OSS root and on a memory:// bucket alias."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import fsspec
import pytest
from click.testing import CliRunner, Result

from localbatch.cli import main

#: Bucket names of the two storage settings every test runs against.
SETTINGS = ("local", "memory")

Oss = Callable[..., Result]


@pytest.fixture(params=SETTINGS)
def bucket(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A bucket holding dir/a.txt and dir/sub/c.bin, on the local root or in memory."""
    config = tmp_path / "config.toml"
    if request.param == "memory":
        name = f"mem-{uuid.uuid4().hex[:8]}"
        config.write_text(f'[oss.buckets]\n{name} = "memory://{name}"\n', encoding="utf-8")
        fs = fsspec.filesystem("memory")
        fs.pipe(f"/{name}/dir/a.txt", b"hello\n")
        fs.pipe(f"/{name}/dir/sub/c.bin", b"\x00\xff")
        return name
    config.write_text("", encoding="utf-8")
    (tmp_path / "oss" / "data" / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "oss" / "data" / "dir" / "a.txt").write_bytes(b"hello\n")
    (tmp_path / "oss" / "data" / "dir" / "sub" / "c.bin").write_bytes(b"\x00\xff")
    return "data"


@pytest.fixture
def oss(tmp_path: Path, bucket: str) -> Oss:
    def run(*args: str, input: bytes | None = None) -> Result:
        options = ["--config", str(tmp_path / "config.toml"), "--oss-root", str(tmp_path / "oss")]
        return CliRunner().invoke(main, ["oss", *args, *options], input=input)

    return run


def test_ls_lists_one_level_and_recursive(oss: Oss, bucket: str) -> None:
    result = oss("ls", f"oss://{bucket}/dir/")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"oss://{bucket}/dir/a.txt", f"oss://{bucket}/dir/sub/"]
    result = oss("ls", "-r", f"oss://{bucket}/")
    assert result.stdout.splitlines() == [
        f"oss://{bucket}/dir/a.txt",
        f"oss://{bucket}/dir/sub/c.bin",
    ]


def test_ls_of_one_object_and_of_a_folder_without_slash(oss: Oss, bucket: str) -> None:
    assert oss("ls", f"oss://{bucket}/dir/a.txt").stdout == f"oss://{bucket}/dir/a.txt\n"
    assert oss("ls", f"oss://{bucket}/dir/sub").stdout == f"oss://{bucket}/dir/sub/c.bin\n"


def test_cat_writes_the_bytes(oss: Oss, bucket: str) -> None:
    result = oss("cat", f"oss://{bucket}/dir/sub/c.bin")
    assert result.exit_code == 0
    assert result.stdout_bytes == b"\x00\xff"


@pytest.mark.parametrize("command", ["ls", "cat"])
def test_missing_object_is_exit_2_with_its_url(oss: Oss, bucket: str, command: str) -> None:
    result = oss(command, f"oss://{bucket}/dir/nothing")
    assert result.exit_code == 2
    assert f"no such object or folder: oss://{bucket}/dir/nothing" in result.stderr
    assert "Traceback" not in result.output


def test_cat_of_a_folder_says_so(oss: Oss, bucket: str) -> None:
    result = oss("cat", f"oss://{bucket}/dir/")
    assert result.exit_code == 2
    assert "is a folder" in result.stderr


@pytest.mark.parametrize("url", ["oss://bkt/../etc/passwd", "oss://bkt/a//b", "/etc/passwd"])
def test_unsafe_keys_are_refused_with_invalid_oss_path(oss: Oss, url: str) -> None:
    for args in (("ls", url), ("cat", url)):
        result = oss(*args)
        assert result.exit_code == 2
        assert result.stderr.startswith("localbatch: InvalidOssPath: ")


def test_cp_refuses_unsafe_destination_key(oss: Oss, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    result = oss("cp", str(tmp_path / "f"), "oss://data/../f")
    assert result.exit_code == 2
    assert "InvalidOssPath" in result.stderr
    assert not (tmp_path / "oss" / "f").exists()


def test_cp_file_up_to_a_folder_and_to_a_key(oss: Oss, bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "r.json"
    source.write_text('{"a": 1}\n')
    assert oss("cp", str(source), f"oss://{bucket}/up/").exit_code == 0
    assert oss("cp", str(source), f"oss://{bucket}/up/named.json").exit_code == 0
    assert oss("cat", f"oss://{bucket}/up/r.json").stdout == '{"a": 1}\n'
    assert oss("cat", f"oss://{bucket}/up/named.json").stdout == '{"a": 1}\n'


def test_cp_directory_round_trip(oss: Oss, bucket: str, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "deep" / "er").mkdir(parents=True)
    (tree / "top.txt").write_text("top")
    (tree / "deep" / "er" / "low.txt").write_text("low")
    up = oss("cp", str(tree), f"oss://{bucket}/tree")
    assert up.exit_code == 0, up.output
    assert up.stdout == "copied 2 objects\n"
    listed = oss("ls", "-r", f"oss://{bucket}/tree/").stdout.splitlines()
    assert listed == [f"oss://{bucket}/tree/deep/er/low.txt", f"oss://{bucket}/tree/top.txt"]
    down = oss("cp", f"oss://{bucket}/tree/", str(tmp_path / "back"))
    assert down.exit_code == 0, down.output
    assert (tmp_path / "back" / "deep" / "er" / "low.txt").read_text() == "low"
    assert (tmp_path / "back" / "top.txt").read_text() == "top"
    assert [p.name for p in (tmp_path / "back").iterdir() if p.name.endswith(".part")] == []


def test_cp_object_down_into_an_existing_directory(oss: Oss, bucket: str, tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    result = oss("cp", f"oss://{bucket}/dir/a.txt", str(tmp_path / "here"))
    assert result.exit_code == 0
    assert (tmp_path / "here" / "a.txt").read_bytes() == b"hello\n"


def test_cp_missing_sources_and_bad_pairs_exit_2(oss: Oss, bucket: str, tmp_path: Path) -> None:
    missing_local = oss("cp", str(tmp_path / "nope"), f"oss://{bucket}/x")
    assert missing_local.exit_code == 2
    assert "no such file or directory" in missing_local.stderr
    missing_object = oss("cp", f"oss://{bucket}/nope", str(tmp_path / "x"))
    assert missing_object.exit_code == 2
    assert f"no such object or folder: oss://{bucket}/nope" in missing_object.stderr
    both_local = oss("cp", "a", "b")
    assert both_local.exit_code == 2
    assert "exactly one of SRC and DST" in both_local.stderr


@pytest.mark.parametrize("args", [("ls", "oss://"), ("ls",)])
def test_ls_of_the_bare_scheme_or_nothing_lists_buckets(
    oss: Oss, bucket: str, tmp_path: Path, args: tuple[str, ...]
) -> None:
    (tmp_path / "oss" / ".localbatch-meta").mkdir(parents=True, exist_ok=True)
    result = oss(*args)
    assert result.exit_code == 0
    assert f"oss://{bucket}/" in result.stdout.splitlines()
    assert ".localbatch-meta" not in result.stdout


def test_cp_to_dash_writes_the_object_to_stdout(oss: Oss, bucket: str) -> None:
    result = oss("cp", f"oss://{bucket}/dir/sub/c.bin", "-")
    assert (result.exit_code, result.stdout_bytes) == (0, b"\x00\xff")
    folder = oss("cp", f"oss://{bucket}/dir/", "-")
    assert folder.exit_code == 2 and "is a folder" in folder.stderr


def test_cp_from_dash_reads_stdin_into_one_object(oss: Oss, bucket: str) -> None:
    data = bytes(range(256)) * 1000
    result = oss("cp", "-", f"oss://{bucket}/piped/data.bin", input=data)
    assert result.exit_code == 0, result.output
    assert result.stdout == "copied 1 object\n"
    assert oss("cat", f"oss://{bucket}/piped/data.bin").stdout_bytes == data
    to_folder = oss("cp", "-", f"oss://{bucket}/piped/", input=b"x")
    assert to_folder.exit_code == 2 and "give the object's whole key" in to_folder.stderr


def test_cp_file_onto_an_existing_folder_goes_inside(oss: Oss, bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "new.txt"
    source.write_text("new")
    result = oss("cp", str(source), f"oss://{bucket}/dir")
    assert result.exit_code == 0, result.output
    assert oss("cat", f"oss://{bucket}/dir/new.txt").stdout == "new"
