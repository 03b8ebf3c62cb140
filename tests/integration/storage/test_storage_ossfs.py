"""The real-OSS path (ossfs, oss2, aiooss2) against the product's OSS endpoint on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localbatch.config import Config
from localbatch.ossendpoint.server import OssEndpoint
from localbatch.storage.instance import JobStorage, StorageError
from tests.unit.storage.storage_helpers import (
    FAST,
    make_config,
    mapped,
    tar_gz,
    task_body,
    write,
)

AK, SK = "test-akid", "test-secret-value"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """An OSS endpoint that verifies signatures, serving `<tmp>/served` (bucket `bkt`)."""
    root = tmp_path / "served"
    (root / "bkt").mkdir(parents=True)
    with OssEndpoint(root, access_key_id=AK, access_key_secret=SK) as endpoint:
        yield root, endpoint.url


def remote_config(tmp_path: Path, url: str, key_id: str = AK, secret: str = SK) -> Config:
    return make_config(
        tmp_path,
        f'[oss]\nendpoint = "{url}"\naccess_key_id = "{key_id}"\naccess_key_secret = "{secret}"\n',
    )


def storage_for(config: Config, task: dict[str, Any]) -> JobStorage:
    from localbatch.spec.model import parse_job

    job = parse_job({"Name": "j", "DAG": {"Tasks": {"t": task}}})
    return JobStorage(config, "job-9", job, config.state_dir / "jobs/job-9", cadence=FAST)


def test_package_inputs_outputs_and_logs_through_ossfs(
    tmp_path: Path, served: tuple[Path, str]
) -> None:
    root, url = served
    write(root / "bkt/pkg/worker.tar.gz", tar_gz({"main.py": b"print('remote')\n"}))
    write(root / "bkt/in/part-0.csv", "a,b\n")
    write(root / "bkt/in/sub/part-1.csv", "c,d\n")
    task = task_body(
        Parameters={
            "Command": {
                "CommandLine": "python main.py",
                "PackagePath": "oss://bkt/pkg/worker.tar.gz",
            },
            "StdoutRedirectPath": "oss://bkt/logs/",
        },
        InputMapping={"oss://bkt/in/": "/in/"},
        OutputMapping={"/out/": "oss://bkt/out/"},
    )
    storage = storage_for(remote_config(tmp_path, url), task)
    prepared = storage.prepare("t", 0, 0)
    binds = {bind.target: bind for bind in mapped(prepared)}
    assert (prepared.workdir / "main.py").read_bytes() == b"print('remote')\n"
    assert (binds["/in"].source / "sub/part-1.csv").read_text() == "c,d\n"
    assert binds["/in"].read_only
    write(binds["/out"].source / "result/total.txt", "42\n")
    write(binds["/out"].source / "big.bin", bytes(range(256)) * 4096 * 12)  # 12 MiB: multipart
    prepared.start_streaming()
    with prepared.stdout_path.open("a") as out:
        out.write("x" * 200)
    assert prepared.streamer is not None and prepared.streamer.pushed.wait(30)
    storage.finish(prepared)
    storage.close()

    assert (root / "bkt/out/result/total.txt").read_text() == "42\n"
    assert (root / "bkt/out/big.bin").read_bytes() == bytes(range(256)) * 4096 * 12
    assert (root / "bkt/logs/stdout.job-9.t.0").read_text() == "x" * 200


def test_wrong_secret_is_a_clear_error_that_does_not_show_it(
    tmp_path: Path, served: tuple[Path, str]
) -> None:
    root, url = served
    write(root / "bkt/pkg/worker.tar.gz", tar_gz({"main.py": b""}))
    task = task_body(
        Parameters={"Command": {"CommandLine": "x", "PackagePath": "oss://bkt/pkg/worker.tar.gz"}}
    )
    storage = storage_for(remote_config(tmp_path, url, secret="wrong-secret-xyz"), task)
    with pytest.raises(StorageError) as caught:
        storage.prepare("t", 0, 0)
    assert caught.value.code == "PackageError"
    assert "wrong-secret-xyz" not in str(caught.value)


def test_job_mount_credentials_reach_real_oss(tmp_path: Path, served: tuple[Path, str]) -> None:
    root, url = served
    write(root / "bkt/ref/genome.fa", ">chr1\n")
    config = make_config(tmp_path, f'[oss]\nendpoint = "{url}"\n')  # no credentials of its own
    task = task_body(
        Mounts={
            "Entries": [{"Source": "oss://bkt/ref/", "Destination": "/ref"}],
            "OSS": {"AccessKeyId": AK, "AccessKeySecret": SK},
        }
    )
    prepared = storage_for(config, task).prepare("t", 0, 0)
    (bind,) = mapped(prepared)
    assert bind.read_only and (bind.source / "genome.fa").read_text() == ">chr1\n"


def test_the_checks_before_a_run_look_at_real_oss(tmp_path: Path, served: tuple[Path, str]) -> None:
    """PackagePath and InputMapping on real OSS (ossfs): found when there, a problem when not."""
    from localbatch.application.preflight import preflight
    from localbatch.spec.model import parse_job

    root, url = served
    write(root / "bkt/pkg/worker.tar.gz", tar_gz({"main.py": b"print('remote')\n"}))
    write(root / "bkt/in/part-0.csv", "a,b\n")

    def problems(package: str, inputs: str) -> list[tuple[str, str]]:
        task = task_body(
            Parameters={"Command": {"CommandLine": "python main.py", "PackagePath": package}},
            InputMapping={inputs: "/in/"},
        )
        job = parse_job({"Name": "j", "DAG": {"Tasks": {"t": task}}})
        found = preflight(job, remote_config(tmp_path, url), None)
        return [(p.field, p.message) for p in found]

    assert problems("oss://bkt/pkg/worker.tar.gz", "oss://bkt/in/") == []
    assert problems("oss://bkt/pkg/absent.tar.gz", "oss://bkt/absent/") == [
        ("Parameters.Command.PackagePath", "oss://bkt/pkg/absent.tar.gz does not exist"),
        ("InputMapping oss://bkt/absent/", "oss://bkt/absent/ does not exist"),
    ]
