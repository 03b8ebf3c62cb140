"""OutputMapping: publish what a program left in a local directory under an OSS prefix.

Each file becomes the object `<prefix><relative path>`, written whole or not at all (see
`transfer.publish_file`). Empty directories are not objects and are skipped. The directory
is read beneath itself (`localbatch.beneath`): a symbolic link is uploaded with the content
it points to when that stays inside the directory; one leading outside (it could expose
host files), a dangling one and special files fail the upload before anything is written.
Remote prefixes (real OSS, other fsspec targets) are uploaded by a few threads at once,
since each put waits on the network; local trees are written in order.
"""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from localbatch.beneath import Found, Root
from localbatch.storage.errors import OUTPUT_UPLOAD_FAILED, StorageError, file_system_errors
from localbatch.storage.resolver import Location
from localbatch.storage.transfer import files_below, publish_file

#: Concurrent puts to a remote prefix.
REMOTE_UPLOADS = 8


def upload_directory(
    directory: Path, prefix: Location, *, link_ok: bool, secrets: tuple[str, ...] = ()
) -> int:
    """Upload every file under `directory`; returns how many objects were written.

    `link_ok`: the directory is about to be removed, so files nobody else links to are moved
    into place (zero copy) on the same file system instead of copied.
    """
    root = Root(directory)
    files = _files(root)
    #: Files that symbolic links inside point to: copied, so each link still finds them.
    link_targets = {_identity(found) for found in files if found.through_link}

    def upload(found: Found) -> None:
        failed = f"uploading {found.path} to {prefix.url}{found.path} failed"
        try:
            with file_system_errors(OUTPUT_UPLOAD_FAILED, failed, secrets=secrets):
                move_ok = (
                    link_ok
                    and not found.through_link
                    and _identity(found) not in link_targets
                    and found.stat is not None
                    and found.stat.st_nlink == 1
                )
                publish_file(root, found.path, prefix.child(found.path), move_ok=move_ok)
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


def _identity(found: Found) -> tuple[int, int]:
    assert found.stat is not None
    return (found.stat.st_dev, found.stat.st_ino)


def _files(root: Root) -> list[Found]:
    """Every file to upload; refuses links leading out and special files before anything
    is uploaded."""
    files = list(files_below(root, OUTPUT_UPLOAD_FAILED, "output directory"))
    for found in files:
        if found.stat is not None and not stat.S_ISREG(found.stat.st_mode):
            raise StorageError(
                OUTPUT_UPLOAD_FAILED, f"{found.path} is not a regular file and cannot be uploaded"
            )
    return files
