"""The bubblewrap command line: what the sandbox shows and in which order."""

from __future__ import annotations

from pathlib import Path

from localbatch.runtime.base import AttemptSpec
from localbatch.runtime.process import sandbox_args
from localbatch.storage.needs import Access, Need, NeedKind
from tests.unit.runtime.specs import attempt_spec


def spec(**changes: object) -> AttemptSpec:
    env = {"PATH": "/usr/bin", "EMPTY": ""}
    return attempt_spec(env=env, workdir=Path("/host/work"), **changes)


def pairs(args: list[str], flag: str) -> list[tuple[str, str]]:
    return [(args[i + 1], args[i + 2]) for i, a in enumerate(args) if a == flag]


def test_namespaces_and_private_directories() -> None:
    args = sandbox_args(spec())
    for flag in ("--die-with-parent", "--unshare-pid", "--new-session"):
        assert flag in args
    assert ("/usr", "/usr") in pairs(args, "--ro-bind")
    assert ("/etc", "/etc") in pairs(args, "--ro-bind")
    tmpfs = [args[i + 1] for i, a in enumerate(args) if a == "--tmpfs"]
    assert tmpfs == ["/tmp", "/root"]
    assert args[args.index("--chdir") + 1] == "/batchcompute/workdir"


def test_environment_is_cleared_then_set_exactly() -> None:
    args = sandbox_args(spec())
    clear = args.index("--clearenv")
    assert pairs(args, "--setenv") == [("PATH", "/usr/bin"), ("EMPTY", "")]
    assert all(i > clear for i, a in enumerate(args) if a == "--setenv")


def test_binds_follow_the_workdir_parents_first() -> None:
    needs = (
        Need(NeedKind.OUTPUT, Path("/h/inner"), "/data/in/inner/", Access.READ_WRITE),
        Need(NeedKind.INPUT, Path("/h/in"), "/data/in/", Access.READ_ONLY),
    )
    args = sandbox_args(spec(needs=needs))
    assert pairs(args, "--bind") == [
        ("/host/work", "/batchcompute/workdir"),
        ("/h/inner", "/data/in/inner/"),
    ]
    order = [i for i, a in enumerate(args) if a in ("/data/in/", "/data/in/inner/")]
    assert [args[i] for i in order] == ["/data/in/", "/data/in/inner/"]


def test_open_sources_are_bound_by_fd_in_the_same_order() -> None:
    needs = (
        Need(NeedKind.OUTPUT, Path("/h/inner"), "/data/in/inner/", Access.READ_WRITE),
        Need(NeedKind.INPUT, Path("/h/in"), "/data/in/", Access.READ_ONLY),
    )
    args = sandbox_args(spec(needs=needs), fds=[7, 8, 9])
    assert pairs(args, "--bind-fd") == [("7", "/batchcompute/workdir"), ("9", "/data/in/inner/")]
    assert pairs(args, "--ro-bind-fd") == [("8", "/data/in/")]
    assert "/h/in" not in args and "/host/work" not in args
