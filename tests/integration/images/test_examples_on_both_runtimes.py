"""The example jobs give the same output on the process runtime and on Docker: the two run
the same image (the default one, for img-ubuntu), so they differ in isolation only."""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

import pytest

from .conftest import localbatch

pytestmark = [pytest.mark.docker, pytest.mark.sandbox]

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
BUCKET = "localbatch-demo"
#: The program the sdk and bcs-sub examples' packages hold (they ship none): what it prints
#: is what differs when a runtime shows a program another system.
PROGRAM = b"""\
import os, shutil, sys
env = os.environ
print("python", sys.version.split()[0], env["BATCH_COMPUTE_DAG_TASK_ID"],
      env["BATCH_COMPUTE_DAG_INSTANCE_ID"])
for name in ("USER", "HOME", "PWD", "PATH", "FOO", "N"):
    print(name, env.get(name))
print("cwd", os.getcwd(), sorted(os.listdir(".")))
print("tools", [shutil.which(t) for t in ("python", "python3", "sh", "bash", "ps", "tar")])
print("debian", open("/etc/debian_version").read().strip())
if os.path.isdir("/home/input"):
    print("input", sorted(os.listdir("/home/input")))
if os.path.isdir("/home/output"):
    with open(f"/home/output/part-{env['BATCH_COMPUTE_DAG_INSTANCE_ID']}.txt", "w") as out:
        out.write("done\\n")
"""


def _package(name: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(PROGRAM)
        tar.addfile(info, io.BytesIO(PROGRAM))
    return buffer.getvalue()


def _stage(example: str, bucket: Path) -> None:
    """What each example reads, in the test's own OSS root."""
    if example == "logcount":
        sys.path.insert(0, str(EXAMPLES / "logcount"))
        try:
            import stage  # type: ignore[import-not-found]

            stage.stage(bucket.parent)
        finally:
            sys.path.remove(str(EXAMPLES / "logcount"))
    elif example == "demo":
        for relative, text in {
            "demo/input/a.txt": "alpha\n",
            "demo/input/b.txt": "beta\n",
            "demo/mount-source/m.txt": "mounted\n",
        }.items():
            (bucket / relative).parent.mkdir(parents=True, exist_ok=True)
            (bucket / relative).write_text(text)
    elif example == "sdk":
        (bucket / "pkg").mkdir(parents=True)
        (bucket / "pkg" / "worker.tar.gz").write_bytes(_package("split.py"))
        (bucket / "input").mkdir()
        (bucket / "input" / "x.txt").write_text("x\n")
    else:
        package = bucket / "bcs" / "ef913368-e8ed-11f1-b970-02fc00000001" / "worker.tar.gz"
        package.parent.mkdir(parents=True)
        package.write_bytes(_package("main.py"))


def _outcome(example: str, runtime: str, tmp_path: Path) -> tuple[int, dict[str, str]]:
    """The run's exit status and every object it wrote, with its job id made `JOB`."""
    root = tmp_path / runtime
    bucket = root / "oss" / BUCKET
    bucket.mkdir(parents=True)
    _stage(example, bucket)
    staged = {p for p in bucket.rglob("*") if p.is_file()}
    done = localbatch(root, "run", str(EXAMPLES / example / "job.json"), "--runtime", runtime)
    output = done.stdout + done.stderr
    job_id = output.split("job job-", 1)[1][:32]
    written = {}
    for path in sorted(bucket.rglob("*")):
        if path.is_file() and path not in staged:
            name = path.relative_to(bucket).as_posix().replace(f"job-{job_id}", "JOB")
            written[name] = path.read_text().replace(f"job-{job_id}", "JOB")
    return done.returncode, written


@pytest.mark.parametrize("example", ["logcount", "demo", "sdk", "bcs-sub"])
def test_an_example_gives_the_same_output_on_both_runtimes(
    example: str, default_image: str, default_rootfs: str, tmp_path: Path
) -> None:
    on_docker = _outcome(example, "docker", tmp_path)
    on_process = _outcome(example, "process", tmp_path)
    assert on_docker[1], f"{example} wrote nothing"
    assert on_process == on_docker
