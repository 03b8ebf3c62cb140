"""OutputMapping: publish what a program left in a local directory under an OSS prefix.

Each file becomes the object `<prefix><relative path>`, written whole or not at all (see
`transfer.publish_file`). Empty directories are not objects and are skipped. A symbolic
link is uploaded with the content it points to when that stays inside the directory; one
leading outside (it could expose host files) fails the upload, as do special files. Remote
prefixes (real OSS, other fsspec targets) are uploaded by a few threads at once, since each
put waits on the network; local trees are written in order.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from localbatch.storage.errors import OUTPUT_UPLOAD_FAILED, StorageError, file_system_errors
from localbatch.storage.paths import contained
from localbatch.storage.resolver import Location
from localbatch.storage.transfer import publish_file

#: Concurrent puts to a remote prefix.
REMOTE_UPLOADS = 8


def upload_directory(
    directory: Path, prefix: Location, *, link_ok: bool, secrets: tuple[str, ...] = ()
) -> int:
    """Upload every file under `directory`; returns how many objects were written.

    `link_ok`: the directory is about to be removed, so files nobody else links to are moved
    into place (zero copy) on the same file system instead of copied.
    """
    files = list(_files(directory, prefix))
    #: Files that symbolic links inside point to: copied, so each link still finds them.
    link_targets = {source for source, _, is_own_file in files if not is_own_file}
    known_dirs: set[Path] = set()
    checked_folders: set[str] = {""}

    def upload(item: tuple[Path, str, bool]) -> None:
        source, relative, is_own_file = item
        failed = f"uploading {relative} to {prefix.url}{relative} failed"
        try:
            with file_system_errors(OUTPUT_UPLOAD_FAILED, failed, secrets=secrets):
                folder = relative.rpartition("/")[0]
                if folder not in checked_folders:  # symlinks checked once per folder
                    prefix.child(folder + "/")
                    checked_folders.add(folder)
                target = prefix.child(relative, check=False)
                move_ok = (
                    link_ok
                    and is_own_file
                    and source not in link_targets
                    and source.stat().st_nlink == 1
                )
                publish_file(source, target, move_ok=move_ok, known_dirs=known_dirs)
        except StorageError as exc:  # e.g. an unsafe key: the upload is what failed
            raise StorageError(OUTPUT_UPLOAD_FAILED, exc.message) from exc

    if prefix.local is not None or len(files) < 2:
        for item in files:
            upload(item)
        return len(files)
    pool = ThreadPoolExecutor(REMOTE_UPLOADS, thread_name_prefix="localbatch-upload")
    try:
        for future in [pool.submit(upload, item) for item in files]:
            future.result()
    finally:
        pool.shutdown(cancel_futures=True)
    return len(files)


def _files(directory: Path, prefix: Location) -> Iterator[tuple[Path, str, bool]]:
    """(file to read, relative key, whether it is the directory's own file) for each file;
    refuses links leading out and special files before anything is uploaded."""
    for current, dirnames, filenames in os.walk(directory):
        base = Path(current)
        for name in [*filenames, *(d for d in dirnames if (base / d).is_symlink())]:
            path = base / name
            relative = path.relative_to(directory).as_posix()
            source = _regular_file(directory, path, relative, prefix)
            if source is not None:
                yield source, relative, source == path


def _regular_file(directory: Path, path: Path, relative: str, prefix: Location) -> Path | None:
    """The file to read for `path`; None for a link to a directory inside (walked anyway)."""
    info = path.lstat()
    if stat.S_ISREG(info.st_mode):
        return path
    if stat.S_ISLNK(info.st_mode):
        if not contained(directory, path):
            raise StorageError(
                OUTPUT_UPLOAD_FAILED,
                f"{relative} is a symbolic link leading outside the output directory; "
                f"it is not uploaded to {prefix.url}",
            )
        real = Path(os.path.realpath(path))
        if real.is_dir():
            return None
        if real.is_file():
            return real
        raise StorageError(OUTPUT_UPLOAD_FAILED, f"{relative} is a dangling symbolic link")
    raise StorageError(
        OUTPUT_UPLOAD_FAILED, f"{relative} is not a regular file and cannot be uploaded"
    )
