"""An instance with a writable OSS mount plants links to host paths, then asks the OSS
endpoint (through `$OSS_ENDPOINT`), its OutputMapping and a later task's InputMapping to
follow them: nothing outside the OSS root is read or written, on both runtimes."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from tests.integration.test_run_jobs import BUCKET, Runner, _job, _task
from tests.integration.test_run_jobs import runner as runner  # the fixture, on both runtimes

SECRET = "host secret"
#: The bucket mounted writable (a valid OSS name, so the endpoint serves it).
SHARED = "shared-bkt"

#: Runs in the instance: plants the links, then tries every way out through the endpoint.
PROBE = """
import json, os, sys, urllib.error, urllib.request

outside = sys.argv[1]
os.symlink(outside, "/mnt/b/lnk")
os.symlink(outside + "/secret", "/mnt/b/file-lnk")
os.symlink(outside + "/secret", "/out/leak")
endpoint = "http://" + os.environ["OSS_ENDPOINT"] + "/SHARED/"


def call(method, key, data=None, headers=None):
    request = urllib.request.Request(endpoint + key, data=data, method=method)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return [answer.status, answer.read().decode(errors="replace")]
    except urllib.error.HTTPError as error:
        return [error.code, error.read().decode(errors="replace")]


copy = {"x-oss-copy-source": "/SHARED/file-lnk"}
print(json.dumps({
    "get": call("GET", "lnk/secret"),
    "get_file_link": call("GET", "file-lnk"),
    "put": call("PUT", "lnk/planted", b"planted"),
    "copy_out": call("PUT", "stolen", b"", copy),
    "delete": call("DELETE", "lnk/secret"),
    "list": call("GET", "?prefix="),
}))
""".replace("SHARED", SHARED)


def _package(tmp: Path) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = PROBE.encode()
        info = tarfile.TarInfo("probe.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (tmp / "oss" / BUCKET / "pkg").mkdir(parents=True, exist_ok=True)
    (tmp / "oss" / BUCKET / "pkg" / "probe.tar.gz").write_bytes(buffer.getvalue())
    return f"oss://{BUCKET}/pkg/probe.tar.gz"


def test_links_planted_through_a_writable_mount_lead_nowhere(runner: Runner) -> None:
    outside = runner.tmp / "outside"
    outside.mkdir()
    (outside / "secret").write_text(SECRET)
    (runner.oss_root / SHARED).mkdir(parents=True)
    plant: dict[str, Any] = _task("true")
    plant["Parameters"]["Command"] = {
        "CommandLine": f"python3 probe.py {outside}",
        "PackagePath": _package(runner.tmp),
    }
    plant["Mounts"] = {
        "Entries": [{"Source": f"oss://{SHARED}/", "Destination": "/mnt/b/", "WriteSupport": True}]
    }
    plant["OutputMapping"] = {"/out/": f"oss://{BUCKET}/out/"}
    follow = _task("ls /in/ && cat /in/secret", InputMapping={f"oss://{SHARED}/lnk/": "/in/"})
    ran = runner.run(_job({"plant": plant, "follow": follow}, {"plant": ["follow"]}))

    report = json.loads(ran.stdout_of("plant").strip().splitlines()[-1])
    for name, (status, body) in report.items():
        assert SECRET not in body, (name, body)
        if name != "list":
            assert status == 403 and "AccessDenied" in body, (name, status, body)
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_text() == SECRET
    assert not (runner.oss_root / SHARED / "stolen").exists()
    # The OutputMapping refused the link out, and the later task never saw the host dir.
    assert ran.instance("plant").error_code == "OutputUploadFailed"
    assert not (runner.oss_root / BUCKET / "out" / "leak").exists()
    follow_record = ran.instance("follow")
    assert follow_record is None or follow_record.state != "Finished"
    assert all(
        SECRET not in p.read_text(errors="replace")
        for p in (runner.oss_root / BUCKET / "logs").iterdir()
    )
