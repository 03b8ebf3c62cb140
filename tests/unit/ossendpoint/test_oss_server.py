"""The endpoint's lifecycle, where it listens, and what a broken upload leaves behind."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from localbatch.ossendpoint.server import OssEndpoint


def test_start_stop_and_addresses(tmp_path: Path) -> None:
    endpoint = OssEndpoint(tmp_path / "root")
    endpoint.start()
    try:
        assert endpoint.port > 0
        assert endpoint.url == f"http://127.0.0.1:{endpoint.port}"
        assert endpoint.address == f"127.0.0.1:{endpoint.port}"
        assert not endpoint.verifies_signatures
        assert requests.get(endpoint.url, timeout=10).status_code == 200  # ListBuckets
    finally:
        endpoint.stop()
    endpoint.stop()  # twice is harmless
    with pytest.raises(requests.ConnectionError):
        requests.get(endpoint.url, timeout=10)


def test_port_in_use_fails_start(tmp_path: Path) -> None:
    with OssEndpoint(tmp_path) as first:
        second = OssEndpoint(tmp_path, port=first.port)
        with pytest.raises(OSError):
            second.start()


def wait_for(condition: Callable[[], bool]) -> None:
    """Poll a file-system condition another thread brings about (no event to await)."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition not reached within 10s"
        time.sleep(0.01)


def test_cut_upload_leaves_no_object_and_no_temporary_file(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "bkt").mkdir(parents=True)
    temp_dir = root / ".localbatch-meta" / "tmp"
    with OssEndpoint(root) as endpoint:
        connection = socket.create_connection(("127.0.0.1", endpoint.port))
        head = b"PUT /bkt/cut HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n"
        connection.sendall(head + b"x" * 400)
        wait_for(lambda: temp_dir.is_dir() and any(temp_dir.iterdir()))  # upload under way
        connection.close()  # the other 600 bytes never come
        wait_for(lambda: not any(temp_dir.iterdir()))
        assert not (root / "bkt" / "cut").exists()


def test_expect_100_continue_is_answered_before_the_body(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "bkt").mkdir(parents=True)
    with OssEndpoint(root) as endpoint:
        with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as connection:
            connection.sendall(
                b"PUT /bkt/e HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
                b"Expect: 100-continue\r\n\r\n"
            )
            assert connection.recv(4096).startswith(b"HTTP/1.1 100 Continue")
            connection.sendall(b"ok")
            assert connection.recv(4096).startswith(b"HTTP/1.1 200")
        assert (root / "bkt" / "e").read_bytes() == b"ok"
