"""Links an instance plants (in a bucket through a writable mount, in its LogMapping
directory) never make the storage layer read or write a host file outside its root.

Each link is planted after the path was resolved, as a running instance would plant it
between the job's preparation and the step that uses it; both resolution paths run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from localbatch import beneath
from localbatch.cli import main
from localbatch.config import Config
from localbatch.storage.errors import StorageError
from localbatch.storage.logs import Cadence, LogStreamer, LogTarget
from localbatch.storage.mounts import nas_directory
from localbatch.storage.outputs import upload_directory
from localbatch.storage.packages import PackageCache
from localbatch.storage.resolver import OssResolver
from localbatch.storage.transfer import publish_host_file
from localbatch.storage.views import ViewCache
from tests.unit.storage.storage_helpers import tar_gz, write

SECRET = b"host secret"


@pytest.fixture(params=["openat2", "walk"], autouse=True)
def resolution(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if request.param == "openat2" and not beneath._kernel_has_openat2():
        pytest.skip("no openat2 here")
    monkeypatch.setattr(beneath, "use_openat2", request.param == "openat2")
    yield


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    directory = tmp_path / "outside"
    write(directory / "secret", SECRET)
    write(directory / "pkg.tar.gz", tar_gz({"stolen.txt": SECRET}))
    return directory


def untouched(outside: Path) -> bool:
    return sorted(p.name for p in outside.iterdir()) == ["pkg.tar.gz", "secret"]


def plant(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


def test_output_upload_through_a_planted_prefix_link_writes_nothing_outside(
    config: Config, tmp_path: Path, outside: Path
) -> None:
    prefix = OssResolver(config.oss).resolve("oss://bkt/out/")
    plant(config.oss.root / "bkt" / "out", outside)
    write(tmp_path / "produced" / "result.txt", "r")
    with pytest.raises(StorageError) as caught:
        upload_directory(tmp_path / "produced", prefix, link_ok=True)
    assert caught.value.code == "OutputUploadFailed"
    assert "symbolic link" in caught.value.message
    assert untouched(outside)


def test_publish_through_a_link_in_a_parent_is_refused(
    config: Config, tmp_path: Path, outside: Path
) -> None:
    target = OssResolver(config.oss).resolve("oss://bkt/deep/er/file")
    plant(config.oss.root / "bkt" / "deep", outside)
    with pytest.raises(StorageError):
        publish_host_file(write(tmp_path / "src", "x"), target)
    assert untouched(outside)


def test_a_logmapping_directory_link_is_not_pushed(
    config: Config, tmp_path: Path, outside: Path
) -> None:
    logs = tmp_path / "mapped"
    write(logs / "ok.log", "fine")
    plant(logs / "stolen.log", outside / "secret")
    folder = OssResolver(config.oss).resolve("oss://bkt/applogs/")
    streamer = LogStreamer([LogTarget(logs, folder)], Cadence())
    with pytest.raises(StorageError) as caught:
        streamer.stop()
    assert caught.value.code == "LogUploadFailed" and "stolen.log" in caught.value.message
    assert not (config.oss.root / "bkt" / "applogs" / "stolen.log").exists()


@pytest.mark.parametrize("url", ["oss://bkt/in/", "oss://bkt/in/secret"])
def test_an_input_view_through_a_planted_link_is_refused(
    config: Config, tmp_path: Path, outside: Path, url: str
) -> None:
    location = OssResolver(config.oss).resolve(url)
    plant(config.oss.root / "bkt" / "in", outside)
    with pytest.raises(StorageError) as caught:
        ViewCache(tmp_path / "views").host_path(location, "InputMappingError")
    assert caught.value.code == "InputMappingError"


def test_a_view_through_a_link_inside_binds_the_real_directory(
    config: Config, tmp_path: Path
) -> None:
    write(config.oss.root / "bkt" / "data" / "x", "x")
    location = OssResolver(config.oss).resolve("oss://bkt/alias/")
    plant(config.oss.root / "bkt" / "alias", Path("data"))
    host = ViewCache(tmp_path / "views").host_path(location, "InputMappingError")
    assert host == (config.oss.root / "bkt" / "data").resolve()


def test_a_package_behind_a_planted_link_is_not_read(
    config: Config, tmp_path: Path, outside: Path
) -> None:
    location = OssResolver(config.oss).resolve("oss://bkt/pkg.tar.gz")
    plant(config.oss.root / "bkt" / "pkg.tar.gz", outside / "pkg.tar.gz")
    with pytest.raises(StorageError) as caught:
        PackageCache(tmp_path / "cache").fetch(location)
    assert caught.value.code == "PackageError"


def test_a_nas_directory_through_a_link_is_refused(config: Config, outside: Path) -> None:
    base = config.nas_dir("fs1")
    base.mkdir(parents=True)
    plant(base / "share", outside)
    with pytest.raises(StorageError):
        nas_directory("nas://fs1.nas.example.com:/share/sub/", config)
    assert untouched(outside)


def test_oss_commands_do_not_follow_links_out(
    config: Config, tmp_path: Path, outside: Path
) -> None:
    write(config.oss.root / "bkt" / "dir" / "ok.txt", "ok")
    plant(config.oss.root / "bkt" / "dir" / "lnk", outside)
    plant(config.oss.root / "bkt" / "dir" / "file-lnk", outside / "secret")

    def oss(*args: str) -> tuple[int, bytes]:
        options = ["--config", str(tmp_path / "config.toml"), "--oss-root", str(config.oss.root)]
        result = CliRunner().invoke(main, ["oss", *args, *options])
        return result.exit_code, result.stdout_bytes + result.stderr_bytes

    code, out = oss("ls", "-r", "oss://bkt/")
    assert code == 0 and b"oss://bkt/dir/ok.txt" in out and b"secret" not in out
    code, out = oss("cat", "oss://bkt/dir/file-lnk")
    assert code != 0 and SECRET not in out
    code, out = oss("cp", "oss://bkt/dir/", str(tmp_path / "download"))
    assert SECRET not in b"".join(
        p.read_bytes() for p in (tmp_path / "download").rglob("*") if p.is_file()
    )
    code, out = oss("cp", str(tmp_path / "download" / "ok.txt"), "oss://bkt/dir/lnk/planted")
    assert code != 0
    assert untouched(outside)
    assert not os.path.exists(outside / "planted")
