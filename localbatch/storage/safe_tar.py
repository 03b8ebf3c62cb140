"""Unpacking an untrusted .tar.gz: every member checked before anything is written.

Python's `tarfile` "data" filter refuses links leading out, absolute link targets, device
files and FIFOs, and drops setuid bits; it would silently strip a leading `/` and accept
`..` that stays inside, so those two are refused here first. A refusal names the member and
the reason in a PackageError; the caller removes the partial tree.
"""

from __future__ import annotations

import os
import tarfile
import zlib
from pathlib import Path
from typing import IO

from localbatch.storage.errors import PACKAGE_ERROR, StorageError


def extract_archive(archive: IO[bytes], tree: Path, url: str) -> None:
    """Unpack the gzip-compressed tar stream `archive` into `tree`, or raise PackageError."""
    try:
        with tarfile.open(fileobj=archive, mode="r|gz") as tar:
            tar.extractall(tree, filter=_refuse_unsafe)
    except tarfile.FilterError as exc:
        member = exc.tarinfo.name
        raise StorageError(
            PACKAGE_ERROR, f"package {url} refused: member {member!r} {_reason(exc)}"
        ) from None
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise StorageError(
            PACKAGE_ERROR, f"package {url} is not a readable .tar.gz archive: {exc}"
        ) from None
    except OSError as exc:
        raise StorageError(PACKAGE_ERROR, f"cannot unpack package {url}: {exc}") from None


def _refuse_unsafe(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo | None:
    """Refuse absolute and `..` names (the "data" filter would strip or resolve them), then
    apply the "data" filter (links leading out, devices, setuid bits)."""
    if member.name.startswith(("/", os.sep)):
        raise tarfile.AbsolutePathError(member)
    if ".." in member.name.replace(os.sep, "/").split("/"):
        raise tarfile.OutsideDestinationError(member, member.name)
    return tarfile.data_filter(member, destination)


def _reason(exc: tarfile.FilterError) -> str:
    reasons = {
        tarfile.AbsolutePathError: "has an absolute name",
        tarfile.OutsideDestinationError: "would be written outside /batchcompute/workdir",
        tarfile.SpecialFileError: "is a device or special file",
        tarfile.AbsoluteLinkError: "is a link to an absolute path",
        tarfile.LinkOutsideDestinationError: "is a link leading outside /batchcompute/workdir",
    }
    return next((text for kind, text in reasons.items() if isinstance(exc, kind)), str(exc))
