"""`localbatch oss-serve`: prints its address, serves the root, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "localbatch", "oss-serve", "--oss-root", str(tmp_path)]
    environment = {**os.environ, "LOCALBATCH_CONFIG": str(tmp_path / "none.toml"), **env}
    return subprocess.Popen(
        [*command, *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serves_the_root_and_stops_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "bkt").mkdir()
    (tmp_path / "bkt" / "k").write_bytes(b"v")
    process = serve(tmp_path)
    try:
        assert process.stdout is not None
        match = re.match(
            r"OSS endpoint (http://127\.0\.0\.1:\d+) serving ", process.stdout.readline()
        )
        assert match
        assert requests.get(f"{match.group(1)}/bkt/k", timeout=10).content == b"v"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "accepting any request" in stderr
    assert stderr.count("any request") == 1, stderr  # one notice, not two wordings of it


def test_credentials_from_the_environment_are_verified(tmp_path: Path) -> None:
    process = serve(tmp_path, LOCALBATCH_ACCESS_KEY_ID="id", LOCALBATCH_ACCESS_KEY_SECRET="s")
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[2]
        assert requests.get(url, timeout=10).status_code == 403
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert "verifying OSS v1 signatures for AccessKeyId id" in stderr


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        process = serve(tmp_path, "--port", str(busy.getsockname()[1]))
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert stderr.startswith("localbatch: cannot listen on 127.0.0.1:")
    assert "Traceback" not in stderr


def test_a_request_that_is_not_http_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    process = serve(tmp_path)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().split()[2].rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"\x16\x03\x01 not http\r\n\r\n")  # a TLS hello, say
            assert client.recv(12) == b"HTTP/1.0 400"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert "refused a request that is not HTTP" in stderr
    assert "Traceback" not in stderr
