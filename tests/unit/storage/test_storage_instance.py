"""JobStorage end to end on the local root: prepare, stream, finish, across retries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from localbatch.config import Config
from localbatch.storage.instance import StorageError
from localbatch.storage.needs import Access, Need, NeedKind, package_view
from tests.unit.storage.storage_helpers import (
    job_storage,
    mapped,
    mapped_task,
    tar_gz,
    task_body,
    write,
)


def binds_by_target(needs: tuple[Need, ...]) -> dict[str, Need]:
    return {need.target: need for need in needs}


def full_task() -> dict[str, object]:
    data_disk = {"DataDisk": {"MountPoint": "/data", "Size": 40}}
    return mapped_task("/home/in/", "/home/out/", AutoCluster={"Configs": {"Disks": data_disk}})


def test_prepare_gives_workdir_binds_and_log_names(config: Config) -> None:
    write(config.oss.root / "bkt/pkg/w.tar.gz", tar_gz({"main.py": b"print(1)\n"}))
    write(config.oss.root / "bkt/in/data.txt", "input")
    storage = job_storage(config, {"count": full_task()}, job_id="job-ABC")
    prepared = storage.prepare("count", 3, 0)

    assert (prepared.workdir / "main.py").read_bytes() == b"print(1)\n"
    binds = binds_by_target(mapped(prepared))
    assert prepared.needs[0] == package_view(prepared.workdir)
    bucket = config.oss.root / "bkt"
    assert binds["/home/in"] == Need(
        NeedKind.INPUT, bucket / "in", "/home/in", Access.READ_ONLY, root=bucket
    )
    assert not binds["/home/out"].read_only and not any(binds["/home/out"].source.iterdir())
    assert binds["/var/log/app.log"].source.is_file() and not binds["/var/log/app.log"].read_only
    assert not binds["/data"].read_only and binds["/data"].source.is_dir()
    assert prepared.stdout_object == "oss://bkt/logs/stdout.job-ABC.count.3"
    assert prepared.stderr_object == "oss://bkt/logs/stderr.job-ABC.count.3"
    storage.finish(prepared)


def test_finish_uploads_outputs_logs_and_cleans_up(config: Config) -> None:
    write(config.oss.root / "bkt/pkg/w.tar.gz", tar_gz({"main.py": b"x"}))
    storage = job_storage(config, {"t": full_task()}, job_id="job-1")
    prepared = storage.prepare("t", 0, 0)
    binds = binds_by_target(mapped(prepared))
    write(binds["/home/out"].source / "a/b.txt", "result")
    write(binds["/home/out"].source / "top.txt", "top")
    binds["/var/log/app.log"].source.write_text("app log\n")
    with prepared.stdout_path.open("a") as out:
        out.write("hello\n")
    storage.finish(prepared)

    root = config.oss.root / "bkt"
    assert (root / "out/a/b.txt").read_text() == "result"
    assert (root / "out/top.txt").read_text() == "top"
    assert (root / "logs/stdout.job-1.t.0").read_text() == "hello\n"
    assert (root / "logs/stderr.job-1.t.0").read_text() == ""
    assert (root / "applogs/app.log.job-1.t.0").read_text() == "app log\n"
    assert not prepared.workdir.exists()
    assert not list((root).rglob(".localbatch-upload-*"))


def test_logs_accumulate_across_retries(config: Config) -> None:
    storage = job_storage(
        config, {"t": task_body(Parameters={"StdoutRedirectPath": "oss://bkt/logs/"})}
    )
    for attempt, line in enumerate(["first try\n", "second try\n"]):
        prepared = storage.prepare("t", 0, attempt)
        with prepared.stdout_path.open("a") as out:
            out.write(line)
        storage.finish(prepared)
    assert (config.oss.root / "bkt/logs/stdout.job-1.t.0").read_text() == "first try\nsecond try\n"


def test_outputs_are_uploaded_after_a_failed_attempt_too(config: Config) -> None:
    storage = job_storage(config, {"t": task_body(OutputMapping={"/out/": "oss://bkt/out/"})})
    prepared = storage.prepare("t", 0, 0)
    write(mapped(prepared)[0].source / "partial.csv", "a,b\n")
    storage.finish(prepared, keep=True)  # ReserveOnFail keeps the attempt's directories
    assert (config.oss.root / "bkt/out/partial.csv").read_text() == "a,b\n"
    assert (mapped(prepared)[0].source / "partial.csv").exists()
    assert prepared.workdir.exists()


def test_streaming_pushes_stdout_while_running(config: Config) -> None:
    storage = job_storage(
        config, {"t": task_body(Parameters={"StdoutRedirectPath": "oss://bkt/logs/"})}
    )
    prepared = storage.prepare("t", 0, 0)
    assert prepared.streamer is not None
    prepared.start_streaming()
    with prepared.stdout_path.open("a") as out:
        out.write("x" * 100)  # above the fast threshold
    assert prepared.streamer.pushed.wait(10)
    assert (config.oss.root / "bkt/logs/stdout.job-1.t.0").read_text() == "x" * 100
    storage.finish(prepared)


def test_input_prefix_missing_is_created_empty(config: Config) -> None:
    storage = job_storage(config, {"t": task_body(InputMapping={"oss://bkt/none/": "/in/"})})
    prepared = storage.prepare("t", 0, 0)
    assert mapped(prepared)[0].source == config.oss.root / "bkt/none"
    assert mapped(prepared)[0].source.is_dir()
    storage.finish(prepared)


def test_single_file_input_is_bound_read_only(config: Config) -> None:
    write(config.oss.root / "bkt/ref/genome.fa", ">x\n")
    storage = job_storage(
        config, {"t": task_body(InputMapping={"oss://bkt/ref/genome.fa": "/ref/g.fa"})}
    )
    prepared = storage.prepare("t", 0, 0)
    assert mapped(prepared) == (
        Need(
            NeedKind.INPUT,
            config.oss.root / "bkt/ref/genome.fa",
            "/ref/g.fa",
            Access.READ_ONLY,
            root=config.oss.root / "bkt",
        ),
    )
    storage.finish(prepared)


def test_missing_single_file_input_is_an_input_mapping_error(config: Config) -> None:
    storage = job_storage(
        config, {"t": task_body(InputMapping={"oss://bkt/ref/none.fa": "/ref/g.fa"})}
    )
    with pytest.raises(StorageError) as caught:
        storage.prepare("t", 0, 0)
    assert caught.value.code == "InputMappingError"


def test_same_path_as_input_and_output_is_refused(config: Config) -> None:
    task = task_body(InputMapping={"oss://bkt/in/": "/x/"}, OutputMapping={"/x/": "oss://bkt/out/"})
    with pytest.raises(StorageError) as caught:
        job_storage(config, {"t": task}).prepare("t", 0, 0)
    assert caught.value.code == "InputMappingError"
    assert "/x" in caught.value.message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("InputMapping", {"oss://bkt/../../etc/": "/in/"}),
        ("OutputMapping", {"/out/": "oss://bkt/a/../../x/"}),
        ("LogMapping", {"/app.log": "oss://bkt//abs/"}),
    ],
)
def test_paths_escaping_the_root_are_refused(config: Config, field: str, value: object) -> None:
    with pytest.raises(StorageError) as caught:
        job_storage(config, {"t": task_body(**{field: value})}).prepare("t", 0, 0)
    assert caught.value.code == "InvalidOssPath"
    assert not (config.state_dir / "jobs/job-1/attempts/t.0.0").exists()


def test_symlink_leading_out_of_the_root_is_refused(config: Config, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (config.oss.root / "bkt").mkdir(parents=True)
    os.symlink(outside, config.oss.root / "bkt/link")
    storage = job_storage(config, {"t": task_body(InputMapping={"oss://bkt/link/": "/in/"})})
    with pytest.raises(StorageError) as caught:
        storage.prepare("t", 0, 0)
    assert caught.value.code == "InvalidOssPath"


def test_memory_bucket_alias_round_trip(memory_config: Config) -> None:
    import fsspec

    memory = fsspec.filesystem("memory")
    base = memory_config.oss.bucket_aliases["mem"].removeprefix("memory://")
    memory.pipe(f"/{base}/pkg/w.tar.gz", tar_gz({"main.py": b"m"}))
    memory.pipe(f"/{base}/in/a/1.txt", b"one")
    task = task_body(
        Parameters={
            "Command": {"CommandLine": "x", "PackagePath": "oss://mem/pkg/w.tar.gz"},
            "StdoutRedirectPath": "oss://mem/logs/",
        },
        InputMapping={"oss://mem/in/": "/in/"},
        OutputMapping={"/out/": "oss://mem/out/"},
    )
    storage = job_storage(memory_config, {"t": task})
    prepared = storage.prepare("t", 0, 0)
    binds = binds_by_target(mapped(prepared))
    assert (prepared.workdir / "main.py").read_bytes() == b"m"
    assert (binds["/in"].source / "a/1.txt").read_bytes() == b"one"
    assert binds["/in"].read_only
    write(binds["/out"].source / "r/x.bin", b"out")
    prepared.stdout_path.write_text("log")
    storage.finish(prepared)
    assert memory.cat(f"/{base}/out/r/x.bin") == b"out"
    assert memory.cat(f"/{base}/logs/stdout.job-1.t.0") == b"log"
    # a second instance reuses the job's download of the input
    again = storage.prepare("t", 1, 0)
    assert binds_by_target(mapped(again))["/in"].source == binds["/in"].source
    storage.finish(again)
    storage.close()
    assert not (memory_config.state_dir / "jobs/job-1/inputs").exists()


def test_close_pushes_logs_of_attempts_never_finished(config: Config) -> None:
    storage = job_storage(
        config, {"t": task_body(Parameters={"StdoutRedirectPath": "oss://bkt/logs/"})}
    )
    prepared = storage.prepare("t", 0, 0)
    prepared.start_streaming()
    prepared.stdout_path.write_text("before the crash\n")
    storage.close()
    assert (config.oss.root / "bkt/logs/stdout.job-1.t.0").read_text() == "before the crash\n"
    assert prepared.streamer is not None and prepared.streamer._thread is None


def test_log_mapping_directory_pushes_each_file_with_the_suffix(config: Config) -> None:
    storage = job_storage(config, {"t": task_body(LogMapping={"/var/log/app/": "oss://bkt/al/"})})
    prepared = storage.prepare("t", 2, 0)
    (bind,) = mapped(prepared)
    assert bind.target == "/var/log/app" and bind.source.is_dir()
    write(bind.source / "a.log", "a")
    write(bind.source / "sub/b.log", "b")
    storage.finish(prepared)
    assert (config.oss.root / "bkt/al/a.log.job-1.t.2").read_text() == "a"
    assert (config.oss.root / "bkt/al/sub/b.log.job-1.t.2").read_text() == "b"


def test_input_mapping_config_is_accepted(config: Config) -> None:
    task = task_body(
        Parameters={"InputMappingConfig": {"Locale": "UTF-8", "Lock": True}},
        InputMapping={"oss://bkt/in/": "/in/"},
    )
    storage = job_storage(config, {"t": task})
    storage.finish(storage.prepare("t", 0, 0))


def test_finish_reports_a_failed_log_push_after_uploading_outputs(config: Config) -> None:
    task = task_body(
        Parameters={"StdoutRedirectPath": "oss://bkt/logs/"},
        OutputMapping={"/out/": "oss://bkt/out/"},
    )
    storage = job_storage(config, {"t": task})
    prepared = storage.prepare("t", 0, 0)
    write(mapped(prepared)[0].source / "r.txt", "r")
    write(config.oss.root / "bkt/logs", "a file where the log folder should be")
    with pytest.raises(StorageError) as caught:
        storage.finish(prepared)
    assert caught.value.code == "LogUploadFailed"
    assert "oss://bkt/logs/stdout.job-1.t.0" in caught.value.message
    assert (config.oss.root / "bkt/out/r.txt").read_text() == "r"
    assert not prepared.attempt_dir.exists()


def test_single_object_input_from_a_memory_bucket(memory_config: Config) -> None:
    import fsspec

    base = memory_config.oss.bucket_aliases["mem"].removeprefix("memory://")
    fsspec.filesystem("memory").pipe(f"/{base}/ref/genome.fa", b">chr1\n")
    task = task_body(InputMapping={"oss://mem/ref/genome.fa": "/ref/g.fa"})
    storage = job_storage(memory_config, {"t": task})
    prepared = storage.prepare("t", 0, 0)
    (bind,) = mapped(prepared)
    assert bind.read_only and bind.source.read_bytes() == b">chr1\n"
    storage.finish(prepared)


def test_missing_memory_input_is_an_input_mapping_error(memory_config: Config) -> None:
    task = task_body(InputMapping={"oss://mem/none.txt": "/in/none.txt"})
    with pytest.raises(StorageError) as caught:
        job_storage(memory_config, {"t": task}).prepare("t", 0, 0)
    assert caught.value.code == "InputMappingError" and "does not exist" in caught.value.message
