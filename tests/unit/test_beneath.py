"""Paths resolved beneath a root: the same answers with openat2 and with the component walk."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from localbatch import beneath
from localbatch.beneath import Escape, Root


@pytest.fixture(params=["openat2", "walk"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "openat2":
        if not beneath._kernel_has_openat2():
            pytest.skip("this kernel (or its seccomp filter) has no openat2")
        monkeypatch.setattr(beneath, "use_openat2", True)
    else:
        monkeypatch.setattr(beneath, "use_openat2", False)
    yield request.param


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """root/ with a file, a dir, links inside and out; outside/ holds the host's secret."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "dir" / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_text("host secret")
    (root / "dir" / "file").write_text("inside")
    (root / "up").symlink_to("dir/sub/..")  # stays inside: root/dir
    (root / "dir" / "sub" / "back").symlink_to("../file")  # stays inside
    (root / "abs").symlink_to(outside)  # absolute: out
    (root / "rel").symlink_to("../outside")  # climbs out
    (root / "dir" / "deep").symlink_to("../../outside/secret")  # climbs out from below
    (root / "loop").symlink_to("loop")
    (root / "dangling").symlink_to("dir/new")
    return root


def read(root: Root, path: str) -> str:
    with root.opened(path) as fd:
        return os.read(fd, 100).decode()


def test_links_that_stay_inside_are_followed(mode: str, tree: Path) -> None:
    root = Root(tree)
    assert read(root, "dir/file") == "inside"
    assert read(root, "up/file") == "inside"
    assert read(root, "dir/sub/back") == "inside"
    assert read(root, "dir/sub/../file") == "inside"
    assert root.stat("up").st_ino == (tree / "dir").stat().st_ino


@pytest.mark.parametrize(
    "path", ["abs/secret", "rel/secret", "dir/deep", "../outside/secret", "/etc/hostname", "abs"]
)
def test_links_and_dots_leading_out_are_refused(mode: str, tree: Path, path: str) -> None:
    with pytest.raises(Escape) as caught:
        Root(tree).open(path)
    assert caught.value.errno == errno.EXDEV


def test_creating_through_a_link_out_is_refused_and_nothing_is_written(
    mode: str, tree: Path
) -> None:
    root = Root(tree)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    with pytest.raises(Escape):
        root.open("abs/planted", flags)
    with pytest.raises(Escape):
        root.makedirs("rel/made/here")
    assert sorted(p.name for p in (tree.parent / "outside").iterdir()) == ["secret"]


def test_a_dangling_link_inside_creates_its_target(mode: str, tree: Path) -> None:
    os.close(Root(tree).open("dangling", os.O_WRONLY | os.O_CREAT))
    assert (tree / "dir" / "new").is_file()


def test_loops_end_with_eloop(mode: str, tree: Path) -> None:
    with pytest.raises(OSError) as caught:
        Root(tree).open("loop")
    assert caught.value.errno == errno.ELOOP


def test_nofollow_and_lstat_see_the_link_itself(mode: str, tree: Path) -> None:
    root = Root(tree)
    assert root.lstat("abs").st_mode & 0o170000 == 0o120000
    with pytest.raises(OSError) as caught:
        root.open("abs", os.O_RDONLY | os.O_NOFOLLOW)
    assert caught.value.errno == errno.ELOOP


def test_makedirs_parent_unlink_rmdir(mode: str, tree: Path) -> None:
    root = Root(tree)
    os.close(root.makedirs("up/a/b"))  # through a link that stays inside
    assert (tree / "dir" / "a" / "b").is_dir()
    root.rmdir("dir/a/b")
    root.unlink("abs")  # the link itself goes; what it pointed to stays
    assert not (tree / "abs").is_symlink()
    assert (tree.parent / "outside" / "secret").exists()
    with root.parent("dir/file") as (fd, name):
        assert name == "file" and os.stat(name, dir_fd=fd).st_size == len("inside")


def test_real_path_and_entries(mode: str, tree: Path) -> None:
    root = Root(tree)
    assert root.real_path("up") == (tree / "dir").resolve()
    with pytest.raises(Escape):
        root.real_path("abs")
    kinds = {name: st.st_mode & 0o170000 for name, st in root.entries("dir")}
    assert kinds == {"file": 0o100000, "sub": 0o040000, "deep": 0o120000}


def test_the_walk_holds_when_a_component_is_swapped_for_a_link(tree: Path) -> None:
    """The walk never lets the kernel follow a link: a directory replaced by a link out
    between two opens is read as a link (and refused), not followed."""
    beneath.use_openat2 = False
    try:
        (tree / "dir" / "sub").rename(tree / "sub-moved")
        (tree / "dir" / "sub").symlink_to(tree.parent / "outside")
        with pytest.raises(Escape):
            Root(tree).open("dir/sub/secret")
    finally:
        beneath.use_openat2 = None
