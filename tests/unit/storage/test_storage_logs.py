"""Log streaming cadence: pushes on size, on time, and a complete push at the end."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from localbatch.config import Config
from localbatch.storage.errors import StorageError
from localbatch.storage.logs import Cadence, LogStreamer, LogTarget
from localbatch.storage.resolver import OssResolver


def streamer(config: Config, source: Path, cadence: Cadence) -> tuple[LogStreamer, Path]:
    target = OssResolver(config.oss).resolve("oss://bkt/logs/stdout.job-1.t.0")
    assert target.local is not None
    return LogStreamer([LogTarget(source, target)], cadence), target.local


def test_pushes_once_the_threshold_is_reached(config: Config, tmp_path: Path) -> None:
    source = tmp_path / "stdout"
    source.write_text("")
    logs, obj = streamer(config, source, Cadence(interval=3600, threshold=10, poll=0.01))
    logs.start()
    source.write_text("0123456789abc")  # 13 bytes >= threshold, long before the interval
    assert logs.pushed.wait(10)
    assert obj.read_text() == "0123456789abc"
    logs.stop()


def test_small_output_waits_for_the_interval(config: Config, tmp_path: Path) -> None:
    source = tmp_path / "stdout"
    source.write_text("")
    logs, obj = streamer(config, source, Cadence(interval=0.05, threshold=1 << 20, poll=0.01))
    logs.start()
    source.write_text("tiny")
    assert logs.pushed.wait(10)
    assert obj.read_text() == "tiny"
    logs.stop()


def test_nothing_is_pushed_early_below_threshold_and_interval(
    config: Config, tmp_path: Path
) -> None:
    source = tmp_path / "stdout"
    source.write_text("small")
    logs, obj = streamer(config, source, Cadence(interval=3600, threshold=1 << 20, poll=0.01))
    logs.start()
    assert not logs.pushed.wait(0.2)
    assert not obj.exists()
    logs.stop()  # the final push always happens
    assert obj.read_text() == "small"


def test_final_push_of_an_empty_log_creates_the_object(config: Config, tmp_path: Path) -> None:
    logs, obj = streamer(config, tmp_path / "never-written", Cadence())
    logs.stop()
    assert obj.read_text() == ""


def test_each_push_is_complete_while_the_file_grows(config: Config, tmp_path: Path) -> None:
    source = tmp_path / "stdout"
    source.write_text("")
    logs, obj = streamer(config, source, Cadence(interval=0.01, threshold=1, poll=0.001))
    logs.start()
    stop = threading.Event()
    seen: list[str] = []

    def read_while_writing() -> None:
        while not stop.is_set():
            if obj.exists():
                seen.append(obj.read_text())

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    with source.open("a") as out:
        for n in range(300):
            out.write(f"line {n}\n")
            out.flush()
    logs.stop()
    stop.set()
    reader.join()
    assert obj.read_text().count("\n") == 300
    assert all(text.endswith("\n") or text == "" for text in seen)


def test_final_push_failure_is_a_log_upload_error(config: Config, tmp_path: Path) -> None:
    source = tmp_path / "stdout"
    source.write_text("x")
    logs, obj = streamer(config, source, Cadence())
    obj.parent.parent.mkdir(parents=True)
    obj.parent.write_text("a file where the folder should be")
    with pytest.raises(StorageError) as caught:
        logs.stop()
    assert caught.value.code == "LogUploadFailed"
