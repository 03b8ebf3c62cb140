"""The starter job: valid as written, wired task to task, never overwriting, staged."""

from __future__ import annotations

import uuid
from pathlib import Path

import fsspec
import pytest
from click.testing import CliRunner

from localbatch.cli import main
from localbatch.config import load_config
from localbatch.spec.validate import validate
from localbatch.starter.scaffold import (
    COUNT_INSTANCES,
    StarterExists,
    StarterJob,
    job_body,
    job_name,
    stage,
    write,
)
from localbatch.storage.resolver import OssResolver


def test_the_job_is_valid_and_wired_output_to_input(tmp_path: Path) -> None:
    body = job_body(StarterJob(tmp_path, "demo"))
    report = validate(body, strict=True)
    assert (report.errors, report.warnings) == ([], [])
    split, count = body["DAG"]["Tasks"]["split"], body["DAG"]["Tasks"]["count"]
    assert list(split["OutputMapping"].values()) == list(count["InputMapping"])
    assert body["DAG"]["Dependencies"] == {"split": ["count"]}
    assert count["InstanceCount"] == COUNT_INSTANCES > 1
    assert split["Parameters"]["Command"]["EnvVars"] == {"PARTS": str(COUNT_INSTANCES)}


@pytest.mark.parametrize(
    ("directory", "name"),
    [("my job", "my-job"), ("2024", "job-2024"), ("--", "first-job"), ("a" * 80, "a" * 64)],
)
def test_the_job_is_named_after_its_directory(tmp_path: Path, directory: str, name: str) -> None:
    assert job_name(tmp_path / directory) == name


def test_nothing_is_overwritten(tmp_path: Path) -> None:
    starter = StarterJob(tmp_path / "job", "job")
    (tmp_path / "job" / "worker").mkdir(parents=True)
    (tmp_path / "job" / "worker" / "count.py").write_text("mine")
    with pytest.raises(StarterExists, match=r"count\.py already exists; nothing was written"):
        write(starter)
    assert sorted(p.name for p in (tmp_path / "job").rglob("*")) == ["count.py", "worker"]
    assert (tmp_path / "job" / "worker" / "count.py").read_text() == "mine"


def test_staging_writes_through_the_storage_in_use(tmp_path: Path) -> None:
    """A bucket alias to memory:// stands for any storage that is not the local root."""
    bucket = f"mem-{uuid.uuid4().hex[:8]}"
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[oss.buckets]\n{bucket} = "memory://{bucket}"\n')
    config = load_config(config_file, {})
    starter = StarterJob(tmp_path / "job", "job", bucket)
    write(starter)
    staged = stage(starter, OssResolver(config.oss))
    assert staged == [f"oss://{bucket}/job/worker.tar.gz", f"oss://{bucket}/job/input/words.txt"]
    memory = fsspec.filesystem("memory")
    assert (
        memory.cat(f"/{bucket}/job/input/words.txt")
        == (tmp_path / "job/input/words.txt").read_bytes()
    )
    assert memory.cat(f"/{bucket}/job/worker.tar.gz")[:2] == b"\x1f\x8b"


def _init(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    options = ["--oss-root", str(tmp_path / "oss"), "--config", str(tmp_path / "none.toml")]
    result = CliRunner().invoke(main, ["init", *args, *options])
    return result.exit_code, result.stdout, result.stderr


def test_init_refuses_an_existing_job_file(tmp_path: Path) -> None:
    target = tmp_path / "here"
    target.mkdir()
    (target / "job.json").write_text("{}")
    code, out, err = _init(tmp_path, str(target))
    assert code == 2 and out == ""
    assert f"{target / 'job.json'} already exists; nothing was written" in err
    assert (target / "job.json").read_text() == "{}"
    assert not (tmp_path / "oss").exists()


def test_init_prints_the_next_commands_with_the_options_given(tmp_path: Path) -> None:
    code, out, _ = _init(tmp_path, str(tmp_path / "demo"))
    assert code == 0
    oss = tmp_path / "oss"
    assert (oss / "localbatch-jobs" / "demo" / "input" / "words.txt").is_file()
    prefix = f"localbatch --config {tmp_path / 'none.toml'} --oss-root {oss}"
    assert f"  {prefix} run {tmp_path / 'demo' / 'job.json'}" in out.splitlines()


def test_init_refuses_a_bucket_oss_refuses(tmp_path: Path) -> None:
    code, _, err = _init(tmp_path, str(tmp_path / "demo"), "--bucket", "Bad_Bucket")
    assert code == 2 and "not a valid OSS bucket name" in err
    assert not (tmp_path / "demo").exists()
