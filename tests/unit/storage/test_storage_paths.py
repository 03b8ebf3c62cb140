"""OSS path parsing, and the resolver that maps buckets to file systems."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fsspec.implementations.memory import MemoryFileSystem
from hypothesis import given
from hypothesis import strategies as st

from localbatch.config import Config
from localbatch.spec.model import OssCredentials
from localbatch.storage.errors import StorageError
from localbatch.storage.paths import OssPath, parse_oss_path
from localbatch.storage.resolver import OssResolver
from tests.unit.storage.storage_helpers import make_config


def test_parse_folder_and_file() -> None:
    assert parse_oss_path("oss://bucket/dir/") == OssPath("bucket", "dir/")
    assert parse_oss_path("oss://bucket/dir/").is_folder
    assert not parse_oss_path("oss://bucket/a/b.tar.gz").is_folder
    assert parse_oss_path("oss://bucket/").parts == ()
    assert parse_oss_path("oss://bucket/a/b/").child("c/d.txt").url == "oss://bucket/a/b/c/d.txt"


@pytest.mark.parametrize(
    "url",
    [
        "s3://bucket/x",
        "oss:///x",
        "oss://../x",
        "oss://bucket/../x",
        "oss://bucket/a/../../x/",
        "oss://bucket//etc/passwd",
        "oss://bucket/a/./b",
        "oss://bucket/a\x00b",
    ],
)
def test_unsafe_or_malformed_paths_are_refused(url: str) -> None:
    with pytest.raises(StorageError) as caught:
        parse_oss_path(url)
    assert caught.value.code == "InvalidOssPath"


def test_child_of_a_file_is_refused() -> None:
    with pytest.raises(StorageError, match="not a folder"):
        parse_oss_path("oss://bkt/file.txt").child("x")


def test_local_root_layout(config: Config) -> None:
    location = OssResolver(config.oss).resolve("oss://data/a/b.txt")
    assert location.local == config.oss.root / "data/a/b.txt"
    assert location.path == str(config.oss.root / "data/a/b.txt")


def test_file_alias_points_a_bucket_elsewhere(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    config = make_config(tmp_path, f'[oss.buckets]\nlake = "file://{lake}"\n')
    location = OssResolver(config.oss).resolve("oss://lake/x/y.csv")
    assert location.local == lake / "x/y.csv"


def test_memory_alias(memory_config: Config) -> None:
    location = OssResolver(memory_config.oss).resolve("oss://mem/x/y.csv")
    assert isinstance(location.fs, MemoryFileSystem)
    assert location.local is None
    assert location.path.endswith("/x/y.csv")


def test_unknown_alias_protocol_is_a_clear_error(tmp_path: Path) -> None:
    config = make_config(tmp_path, '[oss.buckets]\nodd = "nosuchproto://x"\n')
    with pytest.raises(StorageError, match="fsspec cannot open"):
        OssResolver(config.oss).resolve("oss://odd/x")


def test_remote_oss_uses_ossfs_and_hides_credentials(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        '[oss]\nendpoint = "http://127.0.0.1:9"\n'
        'access_key_id = "id"\naccess_key_secret = "s3cr3t"\n',
    )
    resolver = OssResolver(config.oss)
    location = resolver.resolve("oss://bkt/a/b")
    assert type(location.fs).__name__ == "OSSFileSystem"
    assert location.path == "/bkt/a/b" and location.local is None
    assert "s3cr3t" not in repr(resolver)


def test_job_credentials_apply_only_with_an_endpoint(config: Config, tmp_path: Path) -> None:
    creds = OssCredentials("jobid", "jobsecret", "tok")
    assert not OssResolver(config.oss).with_credentials(creds).uses_remote_oss
    with_endpoint = make_config(tmp_path, '[oss]\nendpoint = "http://127.0.0.1:9"\n')
    resolver = OssResolver(with_endpoint.oss)
    assert not resolver.uses_remote_oss
    job_resolver = resolver.with_credentials(creds)
    assert job_resolver.uses_remote_oss
    assert set(job_resolver.secrets()) == {"jobsecret", "tok"}


def test_a_bucket_directory_may_be_a_symlink(config: Config, tmp_path: Path) -> None:
    disk = tmp_path / "other-disk"
    (disk / "x").mkdir(parents=True)
    config.oss.root.mkdir(parents=True)
    (config.oss.root / "big").symlink_to(disk)
    assert OssResolver(config.oss).resolve("oss://big/x/").local == config.oss.root / "big/x"


@given(st.text(alphabet=st.sampled_from(list("ab./\\x00-_ ")), max_size=24))
def test_any_accepted_key_stays_inside_its_bucket(key: str) -> None:
    root = Path("/srv/oss-root")
    try:
        parsed = parse_oss_path(f"oss://bucket/{key}")
    except StorageError:
        return
    local = root.joinpath("bucket", *parsed.parts)
    assert os.path.normpath(local).startswith(str(root / "bucket"))
    assert "\x00" not in str(local)
