"""One bucket name rule (OSS's) for validation, storage paths, `localbatch oss`, the config
and the local OSS endpoint: they all agree on every name."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from localbatch.cli import main
from localbatch.config import ConfigError, load_config
from localbatch.ossendpoint.errors import OssError
from localbatch.ossendpoint.naming import check_bucket_name
from localbatch.spec.buckets import is_bucket_name
from localbatch.spec.validate import validate
from localbatch.storage.errors import StorageError
from localbatch.storage.paths import parse_oss_path
from tests.unit.spec.bodies import job_body, task_body

VALID = ["abc", "my-bucket-1", "0logs", "a" * 63]
INVALID = ["Bad_Bucket", "ab", "a" * 64, "-abc", "abc-", "my.bucket", "UPPER", "b"]


def _validates(bucket: str) -> bool:
    task = task_body(InputMapping={f"oss://{bucket}/in/": "/home/in/"})
    task["Parameters"]["Command"]["PackagePath"] = f"oss://{bucket}/w.tar.gz"
    task["Mounts"] = {"Entries": [{"Source": f"oss://{bucket}/m/", "Destination": "/mnt/m"}]}
    report = validate(job_body(DAG={"Tasks": {"a": task}}))
    codes = [error.code for error in report.errors]
    refused = ["InvalidPackagePath", "InvalidSource", f"InvalidInputMapping.oss://{bucket}/in/"]
    assert sorted(codes) in ([], sorted(refused)), codes  # every path with the bucket, or none
    return report.valid


def _parses(bucket: str) -> bool:
    try:
        parse_oss_path(f"oss://{bucket}/key")
    except StorageError:
        return False
    return True


def _endpoint_accepts(bucket: str) -> bool:
    try:
        check_bucket_name(bucket)
    except OssError as error:
        assert error.code == "InvalidBucketName"
        return False
    return True


def _config_accepts(bucket: str, tmp_path: Path) -> bool:
    config = tmp_path / "config.toml"
    config.write_text(f'[oss.buckets]\n"{bucket}" = "/data/{len(bucket)}"\n')
    try:
        load_config(config, {})
    except ConfigError as error:
        assert "is not a valid bucket name" in str(error)
        return False
    return True


@pytest.mark.parametrize("bucket", VALID + INVALID)
def test_every_surface_applies_the_same_rule(bucket: str, tmp_path: Path) -> None:
    expected = bucket in VALID
    assert is_bucket_name(bucket) is expected
    assert _validates(bucket) is expected
    assert _parses(bucket) is expected
    assert _endpoint_accepts(bucket) is expected
    assert _config_accepts(bucket, tmp_path) is expected


def test_oss_commands_refuse_an_invalid_bucket(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["oss", "ls", "oss://Bad_Bucket/", "--oss-root", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "does not name a valid bucket" in result.stderr
