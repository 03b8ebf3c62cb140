"""How bwrap builds an attempt's `/` from its image: the overlay's merged directory, or the
image read-only with fresh writable directories where programs write."""

from __future__ import annotations

import os
from pathlib import Path

from localbatch.runtime.image_supply import PreparedRootfs
from localbatch.runtime.rootfs import AttemptRoot


def _image(tmp_path: Path) -> PreparedRootfs:
    rootfs = tmp_path / "rootfs"
    for directory in ("usr/bin", "etc", "var/tmp", "tmp", "root", "proc", "dev", "home"):
        (rootfs / directory).mkdir(parents=True)
    (rootfs / "bin").symlink_to("usr/bin")
    (rootfs / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (rootfs / "etc" / "resolv.conf").symlink_to("../run/resolv.conf")
    return PreparedRootfs("k", rootfs)


def _pairs(args: list[str]) -> list[tuple[str, ...]]:
    """bwrap arguments grouped by option (each option takes one or two values)."""
    grouped, index = [], 0
    while index < len(args):
        width = 2 if args[index] in ("--tmpfs", "--proc", "--dev") else 3
        grouped.append(tuple(args[index : index + width]))
        index += width
    return grouped


def test_an_overlay_root_is_bound_as_root(tmp_path: Path) -> None:
    root = AttemptRoot(_image(tmp_path), tmp_path / "attempt")
    args = _pairs(root.bwrap_args())
    assert args[0] == ("--bind", str(tmp_path / "attempt" / "root"), "/")
    assert ("--proc", "/proc") in args and ("--dev", "/dev") in args
    for name in ("/etc/hosts", "/etc/resolv.conf"):  # the host's, as Docker shows them
        if os.path.isfile(name):
            assert ("--ro-bind", name, name) in args


def test_a_read_only_image_gets_fresh_writable_directories(tmp_path: Path) -> None:
    image = _image(tmp_path)
    args = _pairs(AttemptRoot(image).bwrap_args())
    rootfs = str(image.rootfs)
    assert ("--ro-bind", f"{rootfs}/usr", "/usr") in args
    assert ("--ro-bind", f"{rootfs}/var", "/var") in args
    assert ("--symlink", "usr/bin", "/bin") in args
    for directory in ("/tmp", "/var/tmp", "/root", "/run", "/home"):
        assert ("--tmpfs", directory) in args
    bound = {a[2] for a in args if a[0] == "--ro-bind"}
    assert not bound & {"/tmp", "/root", "/proc", "/dev", "/home"}
    # A host file is shown only over a regular file of the image (none can be created).
    assert ("--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf") not in args
    if os.path.isfile("/etc/hosts"):
        assert ("--ro-bind", "/etc/hosts", "/etc/hosts") in args
