"""An attempt's service: its name, its command (the program behind a wrapper that only
redirects its output), its size, and how a failed exec is recognised."""

from __future__ import annotations

import subprocess
from pathlib import Path

from localbatch.runtime.base import AttemptSpec
from localbatch.runtime.swarm_service import (
    LOGS_UNWRITABLE,
    WRAPPER,
    exec_failure,
    one_task,
    service_name,
    task_template,
    wrapped_command,
)
from localbatch.storage.needs import Access, Need, NeedKind, package_view


def spec(tmp_path: Path, **changes: object) -> AttemptSpec:
    fields: dict[str, object] = {
        "job_id": "job-8F3A09C1DEADBEEF",
        "task_name": "count words/x",
        "instance_id": 2,
        "attempt": 1,
        "argv": ("python3", "main.py"),
        "env": {"A": "1"},
        "needs": (
            package_view(tmp_path / "w"),
            Need(NeedKind.INPUT, tmp_path / "in", "/home/input/", Access.READ_ONLY),
        ),
        "image": "img",
        "cpu_cores": 2.0,
        "memory_bytes": 4 * 2**30,
        "stdout_path": tmp_path / "o",
        "stderr_path": tmp_path / "e",
    }
    fields.update(changes)
    return AttemptSpec(**fields)  # type: ignore[arg-type]


def test_names_are_valid_service_names(tmp_path: Path) -> None:
    name = service_name(spec(tmp_path))
    assert name.startswith("lb-8f3a09c1-count_words_x-2-1-")
    assert len(name) <= 63 and name.replace("-", "").replace("_", "").isalnum()
    assert service_name(spec(tmp_path)) != name


def test_reservation_is_the_limit_and_nothing_restarts(tmp_path: Path) -> None:
    template = task_template(
        spec(tmp_path),
        "img@sha256:00",
        {"l": "1"},
        constraints=("node.role==worker",),
        network="batch",
        stop_grace=10,
    )
    resources = template["Resources"]
    assert resources["Limits"] == {"NanoCPUs": 2_000_000_000, "MemoryBytes": 4 * 2**30}
    assert resources["Reservations"] == resources["Limits"]
    assert template["RestartPolicy"]["Condition"] == "none"
    assert template["Placement"]["Constraints"] == ["node.role==worker"]
    assert template["Networks"] == [{"Target": "batch"}]
    container = template["ContainerSpec"]
    assert container["Init"] is True and container["Dir"] == "/batchcompute/workdir"
    assert container["Env"] == ["A=1"] and container["StopGracePeriod"] == 10_000_000_000
    targets = {m["Target"]: (m["Source"], m["ReadOnly"]) for m in container["Mounts"]}
    assert targets["/home/input/"] == (str(tmp_path / "in"), True)
    assert targets["/batchcompute/workdir"] == (str(tmp_path / "w"), False)
    assert targets["/dev/localbatch/stdout"] == (str(tmp_path / "o"), False)
    assert dict(one_task()) == {"replicated": {"Replicas": 1}}


def _wrapped(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[bytes]:
    """The container's command run here with this host's /bin/sh and the same targets."""
    out, err = tmp_path / "out", tmp_path / "err"
    out.touch()
    err.touch()
    command = wrapped_command(argv)
    command[4:6] = [str(out), str(err)]
    return subprocess.run(command, capture_output=True, check=False)


def test_the_wrapper_only_redirects_output(tmp_path: Path) -> None:
    done = _wrapped(tmp_path, "sh", "-c", 'echo "$0|$1" "a  b"; echo e >&2; exit 4', "x", "y")
    assert done.returncode == 4 and done.stdout == b"" and done.stderr == b""
    assert (tmp_path / "out").read_bytes() == b"x|y a  b\n"
    assert (tmp_path / "err").read_bytes() == b"e\n"


def test_a_program_that_cannot_be_executed_is_recognised(tmp_path: Path) -> None:
    done = _wrapped(tmp_path, "no-such-program", "arg")
    assert done.returncode == 127
    words = exec_failure((tmp_path / "err").read_bytes())
    assert "no-such-program" in words and "not found" in words
    assert exec_failure(b"no-such-program: not found\n") == ""


def test_unwritable_log_files_are_the_wrappers_own_status(tmp_path: Path) -> None:
    command = wrapped_command(("true",))
    command[4:6] = [str(tmp_path / "missing"), str(tmp_path / "missing")]
    done = subprocess.run(command, capture_output=True, check=False)
    assert done.returncode == LOGS_UNWRITABLE
    assert b"cannot write the log files" in done.stderr
    assert WRAPPER.count("exec") == 2
