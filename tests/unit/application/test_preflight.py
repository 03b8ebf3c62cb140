"""The checks before a run: each problem alone with its task and field, all of them at once,
what a task of the run writes first, and what cannot be known left alone."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from localbatch.application.preflight import Problem, preflight, program_candidates
from localbatch.config import DEFAULT_DOCKER_IMAGE, Config, load_config
from localbatch.runtime.fake import FakeRuntime
from localbatch.spec.model import parse_job

IMAGE = DEFAULT_DOCKER_IMAGE


class ImageRuntime(FakeRuntime):
    """A fake runtime that uses images, knows which it has and which programs they hold."""

    uses_images = True

    def __init__(self, images: dict[str, set[str]]) -> None:
        super().__init__()
        self.images = images
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    def image_problem(self, image: str, env: Mapping[str, str]) -> str | None:
        return None if image in self.images else f"the image {image} is not here"

    def executables(
        self, image: str, paths: Sequence[str], env: Mapping[str, str]
    ) -> frozenset[str] | None:
        self.asked.append((image, tuple(paths)))
        return frozenset(p for p in paths if p in self.images[image])


@pytest.fixture
def runtime() -> ImageRuntime:
    return ImageRuntime({IMAGE: {"/usr/bin/python3", "/bin/sh"}})


def _task(command: str = "python3 main.py", package: str = "", **fields: Any) -> dict[str, Any]:
    return {
        "InstanceCount": 1,
        "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
        "Parameters": {"Command": {"CommandLine": command, "PackagePath": package}},
        **fields,
    }


def _check(
    config: Config, runtime: Any, tasks: dict[str, Any], deps: Any = None, only: Any = ()
) -> list[tuple[str, str, str]]:
    job = parse_job({"Name": "j", "DAG": {"Tasks": tasks, "Dependencies": deps or {}}})
    return [(p.task, p.field, p.message) for p in preflight(job, config, runtime, only)]


def _package(path: Path, members: dict[str, int]) -> None:
    """A .tar.gz of empty files with the given modes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, mode in members.items():
            info = tarfile.TarInfo(name)
            info.mode = mode
            tar.addfile(info, io.BytesIO(b""))
    path.write_bytes(buffer.getvalue())


def test_a_job_with_nothing_missing_has_no_problem(config: Config, runtime: ImageRuntime) -> None:
    _package(config.oss.root / "bkt/pkg/w.tar.gz", {"main.py": 0o644})
    (config.oss.root / "bkt/in").mkdir(parents=True)
    task = _task(package="oss://bkt/pkg/w.tar.gz", InputMapping={"oss://bkt/in/": "/home/in/"})
    assert _check(config, runtime, {"t": task}) == []
    assert runtime.asked == [
        (IMAGE, ("/sbin/python3", "/usr/sbin/python3", "/bin/python3", "/usr/bin/python3"))
    ]


def test_a_missing_package_in_the_oss_root(config: Config, runtime: ImageRuntime) -> None:
    [(task, field, message)] = _check(
        config, runtime, {"t": _task(package="oss://bkt/none.tar.gz")}
    )
    assert (task, field) == ("t", "Parameters.Command.PackagePath")
    assert message.startswith("oss://bkt/none.tar.gz does not exist (looked for ")
    assert str(config.oss.root / "bkt/none.tar.gz") in message


def test_a_package_path_naming_a_folder(config: Config, runtime: ImageRuntime) -> None:
    (config.oss.root / "bkt/pkg").mkdir(parents=True)
    [(_, field, message)] = _check(config, runtime, {"t": _task(package="oss://bkt/pkg/")})
    assert field == "Parameters.Command.PackagePath" and "is a folder" in message


def test_a_missing_package_behind_a_bucket_alias(tmp_path: Path, runtime: ImageRuntime) -> None:
    lake = tmp_path / "lake"
    _package(lake / "pkg/w.tar.gz", {"main.py": 0o644})
    path = tmp_path / "config.toml"
    path.write_text(f'[oss.buckets]\nlake = "file://{lake}"\nmem = "memory://preflight-mem"\n')
    config = load_config(path, env={}, state_dir=tmp_path / "state", oss_root=tmp_path / "oss")
    found = _check(config, runtime, {"t": _task(package="oss://lake/pkg/w.tar.gz")})
    assert found == []
    missing = _check(config, runtime, {"t": _task(package="oss://lake/pkg/gone.tar.gz")})
    assert [m[1] for m in missing] == ["Parameters.Command.PackagePath"]
    assert str(lake / "pkg/gone.tar.gz") in missing[0][2]
    # An fsspec file system (here memory://) is asked through fsspec.
    in_memory = _check(config, runtime, {"t": _task(package="oss://mem/pkg/w.tar.gz")})
    assert in_memory == [
        ("t", "Parameters.Command.PackagePath", "oss://mem/pkg/w.tar.gz does not exist")
    ]


def test_a_missing_input_mapping_source(config: Config, runtime: ImageRuntime) -> None:
    task = _task(InputMapping={"oss://bkt/in/": "/home/in/"})
    [(task_name, field, message)] = _check(config, runtime, {"t": task})
    assert (task_name, field) == ("t", "InputMapping oss://bkt/in/")
    assert "oss://bkt/in/ does not exist" in message
    assert not (config.oss.root / "bkt/in").exists()  # looked at, not created


def test_an_input_a_task_of_the_run_writes_first_is_no_problem(
    config: Config, runtime: ImageRuntime
) -> None:
    tasks = {
        "split": _task(OutputMapping={"/home/out/": "oss://bkt/shards/"}),
        "count": _task(InputMapping={"oss://bkt/shards/part/": "/home/in/"}),
    }
    assert _check(config, runtime, tasks, {"split": ["count"]}) == []
    mounter = _task(
        Mounts={"Entries": [{"Source": "oss://bkt/", "Destination": "/b", "WriteSupport": True}]}
    )
    reader = _task(InputMapping={"oss://bkt/planted/": "/in/"})
    assert _check(config, runtime, {"m": mounter, "r": reader}, {"m": ["r"]}) == []
    # --only leaves the writer out: the input must then be there already.
    only = _check(config, runtime, tasks, {"split": ["count"]}, only=["count"])
    assert [m[:2] for m in only] == [("count", "InputMapping oss://bkt/shards/part/")]


def test_a_missing_mount_source(config: Config, runtime: ImageRuntime) -> None:
    mounts = {"Entries": [{"Source": "oss://bkt/ref/", "Destination": "/ref"}]}
    auto = {
        "ImageId": "img-ubuntu",
        "InstanceType": "ecs.sn1.medium",
        "Configs": {"Mounts": {"Entries": [{"Source": "oss://bkt/more/", "Destination": "/more"}]}},
    }
    nas = {"Entries": [{"Source": "nas://fs-1.example:/data/", "Destination": "/nas"}]}
    writable = {"Entries": [{"Source": "oss://bkt/w/", "Destination": "/w", "WriteSupport": True}]}
    found = _check(config, runtime, {"t": _task(Mounts=mounts, AutoCluster=auto)})
    assert [m[:2] for m in found] == [
        ("t", "Mounts.Entries[0].Source"),
        ("t", "AutoCluster.Configs.Mounts.Entries[0].Source"),
    ]
    assert _check(config, runtime, {"t": _task(Mounts=nas)}) == []  # made when first used
    assert _check(config, runtime, {"t": _task(Mounts=writable)}) == []  # may start empty


def test_a_command_line_that_does_not_split(config: Config, runtime: ImageRuntime) -> None:
    [(_, field, message)] = _check(config, runtime, {"t": _task("sh -c 'unclosed")})
    assert field == "Parameters.Command.CommandLine"
    assert "cannot be split into words: No closing quotation" in message


def test_a_program_the_image_does_not_have(config: Config, runtime: ImageRuntime) -> None:
    [(_, field, message)] = _check(config, runtime, {"t": _task("pythn3 main.py")})
    assert field == "Parameters.Command.CommandLine"
    assert message == (
        f"'pythn3' is not a program in the image {IMAGE} nor in the package: "
        "looked on PATH /sbin:/usr/sbin:/bin:/usr/bin"
    )
    custom_path = _task("tool")
    custom_path["Parameters"]["Command"]["EnvVars"] = {"PATH": "/opt/bin"}
    [(_, _, message)] = _check(config, runtime, {"t": custom_path})
    assert message.endswith("looked on PATH /opt/bin")


def test_programs_of_the_package(config: Config, runtime: ImageRuntime) -> None:
    _package(
        config.oss.root / "bkt/w.tar.gz", {"./run.sh": 0o755, "data.txt": 0o644, "bin/tool": 0o700}
    )
    pkg = "oss://bkt/w.tar.gz"
    assert _check(config, runtime, {"t": _task("./run.sh --x", pkg)}) == []
    assert _check(config, runtime, {"t": _task("bin/tool", pkg)}) == []
    assert _check(config, runtime, {"t": _task("/batchcompute/workdir/run.sh", pkg)}) == []
    [(_, _, not_x)] = _check(config, runtime, {"t": _task("./data.txt", pkg)})
    assert "is in the package but not executable" in not_x
    [(_, _, absent)] = _check(config, runtime, {"t": _task("./absent.sh", pkg)})
    assert absent.startswith("'./absent.sh' is not a program") and "looked in the package" in absent
    # Without a package the work directory is empty: nothing runs from it.
    assert len(_check(config, runtime, {"t": _task("./run.sh")})) == 1


def test_what_cannot_be_known_is_no_problem(config: Config, runtime: ImageRuntime) -> None:
    inside_a_mapping = _task("/home/in/tool", InputMapping={"oss://bkt/in/": "/home/in/"})
    (config.oss.root / "bkt/in").mkdir(parents=True)
    assert _check(config, runtime, {"t": inside_a_mapping}) == []
    # A runtime that cannot look for programs (here: none at all) finds no program problem.
    assert _check(config, None, {"t": _task("pythn3")}) == []
    assert _check(config, FakeRuntime(), {"t": _task("pythn3")}) == []


def test_a_missing_image_is_said_once_per_task_and_skips_the_program_check(
    config: Config, runtime: ImageRuntime
) -> None:
    task = _task("pythn3")
    task["Parameters"]["Command"]["Docker"] = {"Image": "my/missing:1"}
    assert _check(config, runtime, {"t": task}) == [
        ("t", "Command.Docker.Image", "the image my/missing:1 is not here")
    ]


def test_every_problem_of_every_task_at_once(config: Config, runtime: ImageRuntime) -> None:
    broken_image = _task("python3 x.py", InputMapping={"oss://bkt/a/": "/a/"})
    broken_image["Parameters"]["Command"]["Docker"] = {"Image": "my/missing:1"}
    tasks = {
        "first": _task(
            "pythn3 x.py", "oss://bkt/none.tar.gz", InputMapping={"oss://bkt/in/": "/in/"}
        ),
        "second": broken_image,
        "third": _task(
            "sh -c 'x", Mounts={"Entries": [{"Source": "oss://bkt/m/", "Destination": "/m"}]}
        ),
    }
    found = _check(config, runtime, tasks)
    assert [m[:2] for m in found] == [
        ("first", "Parameters.Command.PackagePath"),
        ("first", "InputMapping oss://bkt/in/"),
        ("first", "Parameters.Command.CommandLine"),
        ("second", "InputMapping oss://bkt/a/"),
        ("second", "Command.Docker.Image"),
        ("third", "Mounts.Entries[0].Source"),
        ("third", "Parameters.Command.CommandLine"),
    ]
    assert Problem("t", "f", "m").describe() == "task t: f: m"


def test_program_candidates_follow_execvp() -> None:
    assert program_candidates("python3", "/usr/bin:/bin") == ["/usr/bin/python3", "/bin/python3"]
    assert program_candidates("./x", "/usr/bin") == ["/batchcompute/workdir/x"]
    assert program_candidates("/opt/x", "/usr/bin") == ["/opt/x"]
    assert program_candidates("x", "bin::") == [
        "/batchcompute/workdir/bin/x",
        "/batchcompute/workdir/x",
        "/batchcompute/workdir/x",
    ]
