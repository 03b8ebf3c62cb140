"""Which programs a sandbox would show, known before it runs: in its image when the image
is prepared already (links followed inside it), or among the host's system files."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from localbatch.runtime.image_supply import PreparedRootfs
from localbatch.runtime.process import ProcessRuntime


class Supply:
    """A root file system supply that knows one image, prepared or not."""

    def __init__(self, root: PreparedRootfs | None, problem: str | None = None) -> None:
        self.root = root
        self.problem = problem
        self.attempts_dir = Path("/nonexistent")

    def image_problem(self, image: str, env: Mapping[str, str]) -> str | None:
        return self.problem

    def ready_root(self, image: str, env: Mapping[str, str]) -> PreparedRootfs | None:
        return self.root

    def root_for(self, image: str, env: Mapping[str, str]) -> PreparedRootfs:
        raise AssertionError("the checks never bring an image")


def _rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/dash").write_bytes(b"")
    (root / "usr/bin/dash").chmod(0o755)
    (root / "usr/bin/readme").write_bytes(b"")
    (root / "bin").symlink_to("usr/bin")  # relative, as in Debian
    (root / "usr/bin/sh").symlink_to("dash")
    (root / "usr/bin/away").symlink_to("/usr/bin/dash")  # absolute: resolved in the sandbox
    return root


def test_programs_in_a_prepared_image(tmp_path: Path) -> None:
    runtime = ProcessRuntime("bwrap", images=Supply(PreparedRootfs("k", _rootfs(tmp_path))))
    found = runtime.executables("img", ["/bin/sh", "/usr/bin/readme", "/usr/bin/nope"], {})
    assert found == {"/bin/sh"}
    assert runtime.executables("img", ["/usr/bin/away"], {}) is None
    assert runtime.executables("img", ["/proc/self/exe"], {}) is None


def test_nothing_is_known_of_an_image_not_prepared_or_with_an_entrypoint(tmp_path: Path) -> None:
    assert ProcessRuntime("bwrap", images=Supply(None)).executables("img", ["/bin/sh"], {}) is None
    with_entrypoint = PreparedRootfs("k", _rootfs(tmp_path), entrypoint=("/entry.sh",))
    runtime = ProcessRuntime("bwrap", images=Supply(with_entrypoint))
    assert runtime.executables("img", ["/bin/sh"], {}) is None


def test_the_image_problem_is_the_supplys_and_none_with_host_files(tmp_path: Path) -> None:
    assert ProcessRuntime("bwrap", images=Supply(None, "gone")).image_problem("i", {}) == "gone"
    assert ProcessRuntime("bwrap").image_problem("i", {}) is None


def test_host_files_as_a_sandbox_shows_them() -> None:
    runtime = ProcessRuntime("bwrap")
    shell = os.path.realpath("/bin/sh")
    assert runtime.executables("", ["/bin/sh", "/usr/bin/no-such-program"], {}) == {"/bin/sh"}
    assert shell.startswith("/usr/") or shell.startswith("/bin/")
    assert runtime.executables("", ["/tmp/anything"], {}) == frozenset()
