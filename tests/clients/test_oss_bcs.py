"""The OSS calls of the official CLI (`bcs sub -p`, `bcs log`, `bcs oss ...`), made through
its own `oss_client` module: virtual-host style OSS names reached through HTTP_PROXY."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.oss_support import ACCESS_KEY_ID, ACCESS_KEY_SECRET, BUCKET, Served, serve

oss_client = pytest.importorskip("batchcompute_cli.util.oss_client")

CLI_CONFIG = f"""[common]
region = cn-local
accesskeyid = {ACCESS_KEY_ID}
accesskeysecret = {ACCESS_KEY_SECRET}
osspath = oss://{BUCKET}/bcs/
"""


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    home = tmp_path / "home"
    (home / ".batchcompute").mkdir(parents=True)
    (home / ".batchcompute" / "cliconfig").write_text(CLI_CONFIG)
    monkeypatch.setenv("HOME", str(home))
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for server in serve(tmp_path):
        # The CLI always names http://oss-<region>.aliyuncs.com; the proxy is the endpoint.
        monkeypatch.setenv("HTTP_PROXY", server.endpoint.url)
        monkeypatch.setenv("http_proxy", server.endpoint.url)
        yield server


def test_sub_p_package_upload(served: Served, tmp_path: Path) -> None:
    package = tmp_path / "worker.tar.gz"
    package.write_bytes(b"\x1f\x8b" + b"tar bytes" * 1000)
    oss_client.upload_file(str(package), f"oss://{BUCKET}/bcs/uuid-1/worker.tar.gz")
    assert served.file("bcs/uuid-1/worker.tar.gz").read_bytes() == package.read_bytes()


def test_log_fetch_calls(served: Served, tmp_path: Path) -> None:
    log = served.file("logs/stdout.job-1.task.0")
    log.parent.mkdir()
    log.write_text("hello from the instance\n")
    path = f"oss://{BUCKET}/logs/stdout.job-1.task.0"
    assert oss_client.head_data(path).content_length == len("hello from the instance\n")
    assert oss_client.get_data(path) == "hello from the instance\n"
    target = tmp_path / "downloaded.log"
    oss_client.download_file(path, str(target))
    assert target.read_text() == "hello from the instance\n"


def test_oss_ls_put_cat_delete(served: Served) -> None:
    oss_client.put_data("some text", f"oss://{BUCKET}/bcs/notes.txt")
    for n in range(3):
        oss_client.put_data(str(n), f"oss://{BUCKET}/bcs/dir/{n}")
    objects, prefixes, *_ = oss_client.list(f"oss://{BUCKET}/bcs/", delimiter="/")
    assert [o.key for o in objects] == ["bcs/notes.txt"]
    assert prefixes == ["bcs/dir/"]
    assert oss_client.get_data(f"oss://{BUCKET}/bcs/notes.txt") == "some text"
    oss_client.delete_file(f"oss://{BUCKET}/bcs/notes.txt")
    assert not served.file("bcs/notes.txt").exists()


def test_login_check_round_trip(served: Served) -> None:
    # `bcs login` / `bcs set -o` upload then delete a probe file under the OSS path.
    assert oss_client.check_client({"osspath": f"oss://{BUCKET}/bcs/"}) == "ok"
    assert not served.file("bcs/tmp.txt").exists()
