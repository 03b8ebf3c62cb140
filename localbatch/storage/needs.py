"""What an attempt needs to see, described without deciding how it gets there.

Storage prepares each need on this host (the package unpacked, an input's local view, an
empty output directory, a log file, a NAS directory, a private data disk) and describes it:
its kind, where it is on this host, the path the program sees it at, and whether the
program may write to it. A runtime places the needs: one that shares this host's files
binds the host paths (`AttemptSpec.binds`); one on other machines turns them into volumes
on storage it shares with this host. Storage imports nothing from the runtimes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

#: Where the program runs: its package unpacked, writable (the service's work directory).
WORKDIR = "/batchcompute/workdir"


class Access(enum.Enum):
    READ_ONLY = "read-only"
    READ_WRITE = "read-write"


class NeedKind(enum.Enum):
    #: The package view: the package unpacked, the program's work directory.
    PACKAGE = "package"
    #: An InputMapping: an OSS object or folder, read-only.
    INPUT = "input"
    #: An OutputMapping directory, empty at start, uploaded after the attempt.
    OUTPUT = "output"
    #: A LogMapping file or directory, pushed while the program runs.
    LOG = "log"
    #: A Mounts entry: an OSS folder or a NAS file system.
    MOUNT = "mount"
    #: The AutoCluster DataDisk: private to the attempt, empty, writable.
    DATA_DISK = "data disk"


@dataclass(frozen=True)
class Need:
    """One thing the program sees at `target`, prepared on this host at `source`."""

    kind: NeedKind
    source: Path
    #: A normalised absolute path inside the instance.
    target: str
    access: Access
    #: The directory `source` was found beneath (its real path), when what a job writes
    #: could change the path meanwhile (a bucket or NAS directory): a runtime opens
    #: `source` again beneath it, and binds what it opened rather than the path.
    root: Path | None = None

    @property
    def read_only(self) -> bool:
        return self.access is Access.READ_ONLY


def package_view(directory: Path) -> Need:
    """The attempt's work directory (its package unpacked) as the program sees it."""
    return Need(NeedKind.PACKAGE, directory, WORKDIR, Access.READ_WRITE)


def access(read_only: bool) -> Access:
    return Access.READ_ONLY if read_only else Access.READ_WRITE
