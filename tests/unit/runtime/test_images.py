"""The default image recipe: mirror discovery and the messages that say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from localbatch.config import DEFAULT_DOCKER_IMAGE
from localbatch.runtime import images
from localbatch.runtime.images import FALLBACK_MIRROR, ImageBuildError, apt_mirror, how_to_get


def test_mirror_from_deb822_sources(tmp_path: Path) -> None:
    (tmp_path / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n"
    )
    assert apt_mirror([tmp_path]) == "http://mirror.example/debian"


def test_mirror_from_one_line_list(tmp_path: Path) -> None:
    sources = tmp_path / "sources.list"
    sources.write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64] http://list.example/debian bookworm main\n"
    )
    assert apt_mirror([sources]) == "http://list.example/debian"


def test_mirror_falls_back_to_debian(tmp_path: Path) -> None:
    assert apt_mirror([tmp_path / "nothing"]) == FALLBACK_MIRROR


def test_how_to_get_the_default_and_other_images() -> None:
    assert "localbatch images build" in how_to_get(DEFAULT_DOCKER_IMAGE)
    other = how_to_get("team/worker:3")
    assert "docker load" in other and "docker build -t team/worker:3" in other
    assert "[images]" in other and "[image_sources]" in other
    registry = how_to_get("localhost:5000/team/worker:3")
    assert "BATCH_COMPUTE_DOCKER_REGISTRY_OSS_PATH (EnvVars), which is not set" in registry


def test_missing_debootstrap_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images.shutil, "which", lambda _: None)
    with pytest.raises(ImageBuildError, match="apt-get install debootstrap"):
        images._check_can_build()


def test_not_root_says_to_use_sudo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images.shutil, "which", lambda _: "/usr/sbin/debootstrap")
    monkeypatch.setattr(images.os, "geteuid", lambda: 1000)
    with pytest.raises(ImageBuildError, match="sudo localbatch images build"):
        images._check_can_build()


def _fake_debootstrap(tmp_path: Path, exit_code: int) -> str:
    """A debootstrap that prints progress and noise, as the real one does, then exits."""
    script = tmp_path / "debootstrap"
    script.write_text(
        "#!/bin/sh\n"
        "echo 'I: Retrieving InRelease'\n"
        "echo 'W: a warning' >&2\n"
        "echo 'I: Extracting libc6...'\n"
        f"exit {exit_code}\n"
    )
    script.chmod(0o755)
    return str(script)


def test_debootstrap_progress_is_relayed_as_it_comes(tmp_path: Path) -> None:
    lines: list[str] = []
    images._debootstrap(_fake_debootstrap(tmp_path, 0), tmp_path / "root", "http://m", lines.append)
    assert lines == [
        "debootstrap bookworm from http://m (about a minute)",
        "debootstrap: Retrieving InRelease",
        "debootstrap: Extracting libc6...",
    ]


def test_a_failing_debootstrap_gives_its_last_lines(tmp_path: Path) -> None:
    with pytest.raises(ImageBuildError) as raised:
        images._debootstrap(_fake_debootstrap(tmp_path, 3), tmp_path / "root", "http://m", print)
    assert str(raised.value) == (
        "debootstrap failed (exit 3):\n"
        "I: Retrieving InRelease\nW: a warning\nI: Extracting libc6..."
    )


def _fake_debootstrap_tree(_tool: str, rootfs: Path, _mirror: str, _log: object) -> None:
    (rootfs / "usr" / "bin").mkdir(parents=True)
    (rootfs / "usr" / "bin" / "python").write_text("#!/bin/sh\n")
    (rootfs / "bin").symlink_to("usr/bin")


def test_without_an_engine_the_build_makes_the_process_runtime_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from localbatch.images.store import RootfsStore

    monkeypatch.setattr(images, "_check_can_build", lambda: "/usr/sbin/debootstrap")
    monkeypatch.setattr(images, "_debootstrap", _fake_debootstrap_tree)
    store = RootfsStore(tmp_path / "cache")
    built = images.build_default_images(None, store, "team/base:1", mirror="http://m.example")
    assert built == images.Built(docker=False, rootfs=True)
    prepared = store.named("team/base:1")
    assert prepared is not None
    assert (prepared.rootfs / "bin" / "python").read_text() == "#!/bin/sh\n"
    assert prepared.env == {"PATH": images.IMAGE_PATH}
    assert "recipe " + images.RECIPE_VERSION in prepared.source
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []  # nothing half-made is left

    def no_second_build(*_: object) -> None:
        raise AssertionError("built again")

    monkeypatch.setattr(images, "_debootstrap", no_second_build)
    again = images.build_default_images(None, store, "team/base:1")
    assert again == images.Built(docker=False, rootfs=False)
