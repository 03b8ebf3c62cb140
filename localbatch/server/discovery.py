"""How job commands find the `localbatch serve` of a state directory: `<state>/server.json`.

The server writes its address and process identity when it starts listening and removes the
file when it stops; a file left by a killed server is ignored because its process is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from localbatch.store import runner_alive

FILE_NAME = "server.json"


@dataclass(frozen=True)
class ServerInfo:
    url: str
    #: "<pid>:<start time>" of the server process.
    runner: str
    #: host:port of the OSS endpoint it serves ("" when none).
    oss_address: str = ""


def write_server_info(state_dir: Path, info: ServerInfo) -> None:
    """Announce the server atomically (write then rename): a reader never sees half a file."""
    path = state_dir / FILE_NAME
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(info)) + "\n")
    temporary.replace(path)


def remove_server_info(state_dir: Path, info: ServerInfo) -> None:
    """Remove the file if it still describes this server (another may have replaced it)."""
    if read_server_info(state_dir, check_alive=False) == info:
        with contextlib.suppress(FileNotFoundError):
            (state_dir / FILE_NAME).unlink()


def read_server_info(state_dir: Path, *, check_alive: bool = True) -> ServerInfo | None:
    """The running server of this state directory, or None."""
    try:
        data = json.loads((state_dir / FILE_NAME).read_text())
        info = ServerInfo(
            url=str(data["url"]),
            runner=str(data["runner"]),
            oss_address=str(data.get("oss_address", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if check_alive and not runner_alive(info.runner):
        return None
    return info
