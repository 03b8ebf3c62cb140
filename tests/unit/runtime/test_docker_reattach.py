"""Reattaching to a container a dead run started: its output is collected whole, or the
attempt does not pass as ended the way its program ended.

The engine is a stand-in answering as Docker 20.10 does for an exited container (checked
against a real engine): while someone else removes it, `inspect` still finds it
("removing"), `logs` answers 409 ("can not get logs from container which is dead or marked
for removal") and `wait` answers its real exit code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from localbatch.runtime.docker import INSTANCE_LOST, DockerRuntime

REF = "c0ffee" * 10 + "abcd"
MARKED_FOR_REMOVAL = "can not get logs from container which is dead or marked for removal"


class EndedContainer:
    """The Engine API of one exited container whose log holds `stdout` and `stderr`."""

    def __init__(self, stdout: list[bytes], stderr: list[bytes], refuse: str = "") -> None:
        self.output = {"stdout": stdout, "stderr": stderr}
        #: The stream ("stdout" or "stderr") whose `logs` request the engine refuses.
        self.refuse = refuse
        self.removed = False

    def inspect_container(self, ref: str) -> dict[str, Any]:
        return {"Id": REF, "State": {"Running": False, "Status": "exited"}}

    def logs(self, ref: str, *, stdout: bool, stderr: bool, **_: Any) -> Iterator[bytes]:
        stream = "stdout" if stdout else "stderr"
        if stream == self.refuse:
            raise docker.errors.APIError("409 Conflict", explanation=MARKED_FOR_REMOVAL)
        return iter(self.output[stream])

    def wait(self, ref: str) -> dict[str, Any]:
        return {"StatusCode": 0}

    def remove_container(self, ref: str, force: bool) -> None:
        self.removed = True


class Client:
    def __init__(self, api: EndedContainer) -> None:
        self.api = api


def _files(tmp_path: Path) -> tuple[Path, Path]:
    """The instance's log files as the dead runner left them: it had copied the first line."""
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    stdout.write_bytes(b"before\n")
    stderr.write_bytes(b"e-before\n")
    return stdout, stderr


def _adopt(api: EndedContainer, stdout: Path, stderr: Path) -> Any:
    runtime = DockerRuntime(Client(api))
    handle = runtime.reattach(REF, stdout, stderr, begins_at=(0, 0))
    assert handle is not None
    outcome = runtime.wait(handle, 10)
    runtime.release(handle, keep=False)
    return outcome


def test_what_it_wrote_while_nobody_watched_is_appended(tmp_path: Path) -> None:
    stdout, stderr = _files(tmp_path)
    api = EndedContainer([b"before\n", b"during\nafter\n"], [b"e-before\ne-during\n"])
    outcome = _adopt(api, stdout, stderr)
    assert outcome is not None and outcome.succeeded
    assert stdout.read_bytes() == b"before\nduring\nafter\n"
    assert stderr.read_bytes() == b"e-before\ne-during\n"
    assert api.removed


@pytest.mark.parametrize("refused", ["stdout", "stderr"])
def test_output_the_engine_does_not_give_back_loses_the_attempt(
    tmp_path: Path, refused: str
) -> None:
    stdout, stderr = _files(tmp_path)
    api = EndedContainer([b"before\nduring\nafter\n"], [b"e-before\ne-during\n"], refused)
    outcome = _adopt(api, stdout, stderr)
    # Its exit code 0 must not pass it as Finished with log files missing what it wrote.
    assert outcome is not None and not outcome.succeeded
    assert outcome.error_code == INSTANCE_LOST
    assert f"did not give back the {refused}" in outcome.error_message
    assert MARKED_FOR_REMOVAL in outcome.error_message
