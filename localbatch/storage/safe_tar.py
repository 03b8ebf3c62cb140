"""Unpacking an untrusted .tar.gz: every member checked before anything is written.

Python's `tarfile` "data" filter refuses links leading out, absolute link targets, device
files and FIFOs, and drops setuid bits; it would silently strip a leading `/` and accept
`..` that stays inside, so those two are refused here first: a `..` segment is refused even
when the name would resolve inside (`a/../b`), since a name that means something else than
it reads is no name a packager writes. A refusal names the member and the reason in a
PackageError; the caller removes the partial tree.

Unpacking is bounded while it runs: each member is charged its size rounded up to whole
4 KiB blocks (at least one, what it takes on disk) before it is written, and the archive
is refused as soon as the total passes the limit, so a small, highly compressible archive
cannot fill the disk.
"""

from __future__ import annotations

import os
import tarfile
import zlib
from pathlib import Path
from typing import IO

from localbatch.storage.errors import PACKAGE_ERROR, StorageError

#: What one member is charged at least, and the unit its size is rounded up to.
BLOCK = 4096


class DotDotName(tarfile.FilterError):
    """A member name with a `..` segment, wherever it resolves."""

    def __init__(self, member: tarfile.TarInfo) -> None:
        super().__init__(f"{member.name!r} has a '..' segment")
        self.tarinfo = member


class TooLarge(tarfile.FilterError):
    """The archive unpacks to more than the limit."""

    def __init__(self, member: tarfile.TarInfo, limit: int) -> None:
        super().__init__(f"{member.name!r} passes the unpacked-size limit")
        self.tarinfo = member
        self.limit = limit


class _Budget:
    """The extraction filter, charging each member against the unpacked-size limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def __call__(self, member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo | None:
        checked = _refuse_unsafe(member, destination)
        self.used += unpacked_size(member.size)
        if self.used > self.limit:
            raise TooLarge(member, self.limit)
        return checked


def unpacked_size(size: int) -> int:
    """What a file of `size` bytes is charged (whole blocks, at least one)."""
    return max(1, -(-size // BLOCK)) * BLOCK


def extract_archive(archive: IO[bytes], tree: Path, url: str, max_unpacked: int) -> int:
    """Unpack the gzip-compressed tar stream `archive` into `tree`, or raise PackageError;
    answers the unpacked size charged."""
    budget = _Budget(max_unpacked)
    try:
        with tarfile.open(fileobj=archive, mode="r|gz") as tar:
            tar.extractall(tree, filter=budget)
        return budget.used
    except TooLarge as exc:
        raise StorageError(
            PACKAGE_ERROR,
            f"package {url} refused: it unpacks to more than {exc.limit} bytes, the limit set "
            f"by [packages] max_unpacked_size (reached at member {exc.tarinfo.name!r})",
        ) from None
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
        raise DotDotName(member)
    return tarfile.data_filter(member, destination)


def _reason(exc: tarfile.FilterError) -> str:
    reasons = {
        DotDotName: "has a '..' segment (refused whether or not it leads outside "
        "/batchcompute/workdir)",
        tarfile.AbsolutePathError: "has an absolute name",
        tarfile.OutsideDestinationError: "would be written outside /batchcompute/workdir",
        tarfile.SpecialFileError: "is a device or special file",
        tarfile.AbsoluteLinkError: "is a link to an absolute path",
        tarfile.LinkOutsideDestinationError: "is a link leading outside /batchcompute/workdir",
    }
    return next((text for kind, text in reasons.items() if isinstance(exc, kind)), str(exc))
