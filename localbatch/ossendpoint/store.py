"""Objects as files under the OSS root: look up, publish, delete, buckets.

Blocking file-system code only (the HTTP layer runs it in worker threads). A bucket is a
top-level directory; a key ending in '/' is a directory ("folder" object, always empty of
bytes); the parents of a deleted object are removed again once empty, unless they were
created as folder objects, so listings look like OSS's.

Every key is resolved beneath its bucket's directory (`localbatch.beneath`): a symbolic
link inside the bucket is followed while it stays inside, and one leading out (which an
instance with a writable mount can plant) is refused with AccessDenied, for reads, writes,
copies, deletes and listings alike. A reader opens the body first and then takes the
attributes recorded for exactly that file version, so it never pairs one writer's body with
another's ETag or metadata.
"""

from __future__ import annotations

import contextlib
import os
import stat as stat_module
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from localbatch.beneath import Escape, Root
from localbatch.ossendpoint.errors import OssError
from localbatch.ossendpoint.metadata import MetadataStore, ObjectMeta, Stamp, plain_meta
from localbatch.ossendpoint.naming import META_DIR_NAME, check_bucket_name, check_key
from localbatch.ossendpoint.writer import AtomicWriter
from localbatch.spec.buckets import is_bucket_name
from localbatch.tempfiles import TEMPORARY_PREFIX, sweep

__all__ = ["TEMPORARY_PREFIX", "ObjectInfo", "ObjectStore", "folder_info"]

#: ETag of zero bytes, as OSS reports it for folder objects.
EMPTY_ETAG = "D41D8CD98F00B204E9800998ECF8427E"
#: Times a reader reopens a key whose body was replaced while it looked up the attributes.
READ_RETRIES = 8


def escaped(key: str) -> OssError:
    return OssError(
        "AccessDenied",
        f"The key {key!r} leads outside its bucket through a symbolic link in the local OSS "
        "root; it is not followed.",
        extra={"Key": key},
    )


@contextlib.contextmanager
def confined(key: str) -> Iterator[None]:
    """Escapes become AccessDenied; a missing path, NoSuchKey."""
    try:
        yield
    except Escape:
        raise escaped(key) from None
    except (FileNotFoundError, NotADirectoryError):
        raise OssError("NoSuchKey", extra={"Key": key}) from None


def key_path(key: str) -> str:
    """The path below the bucket's directory holding `key` (checked first)."""
    check_key(key)
    return key.rstrip("/")


@dataclass(frozen=True)
class ObjectInfo:
    """One object as the endpoint answers it."""

    bucket: str
    key: str
    size: int
    mtime: float
    meta: ObjectMeta
    #: The inode this answer describes (a reader holding its open file keeps it).
    stamp: Stamp | None = None


def folder_info(bucket: str, key: str, st: os.stat_result, meta: ObjectMeta | None) -> ObjectInfo:
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=0,
        mtime=st.st_mtime,
        meta=meta or ObjectMeta(etag=EMPTY_ETAG, content_type="application/octet-stream"),
    )


class ObjectStore:
    """The OSS root on disk, with its hidden metadata directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.meta_dir = root / META_DIR_NAME
        self.metadata = MetadataStore(self.meta_dir)
        self.temp_dir = self.meta_dir / "tmp"

    def sweep(self) -> None:
        """Remove what writers killed mid-upload left behind: temporary files, and uploads
        claimed by a completion or abort that never ended."""
        sweep(self.temp_dir)
        sweep(self.meta_dir / "uploads")

    # Buckets -------------------------------------------------------------------------------

    def bucket_dir(self, bucket: str) -> Path:
        check_bucket_name(bucket)
        return self.root / bucket

    def bucket_root(self, bucket: str) -> Root:
        """The bucket's directory, which its keys are resolved beneath; NoSuchBucket."""
        directory = self.bucket_dir(bucket)
        if not directory.is_dir():
            raise OssError("NoSuchBucket", extra={"BucketName": bucket})
        return Root(directory)

    def require_bucket(self, bucket: str) -> Path:
        return self.bucket_root(bucket).path

    def ensure_bucket(self, bucket: str) -> Root:
        """Writes create a missing bucket: the local root has no other way to make one."""
        directory = self.bucket_dir(bucket)
        directory.mkdir(parents=True, exist_ok=True)
        return Root(directory)

    def buckets(self) -> list[tuple[str, float]]:
        """(name, creation time) of every directory of the root that is a valid bucket name."""
        found = []
        with contextlib.suppress(FileNotFoundError), os.scandir(self.root) as entries:
            for entry in entries:
                if is_bucket_name(entry.name) and entry.is_dir():
                    found.append((entry.name, entry.stat().st_ctime))
        return sorted(found)

    def delete_bucket(self, bucket: str) -> None:
        directory = self.require_bucket(bucket)
        if any(os.scandir(directory)):
            raise OssError("BucketNotEmpty", extra={"BucketName": bucket})
        directory.rmdir()

    # Objects -------------------------------------------------------------------------------

    def open(self, bucket: str, key: str, flags: int = os.O_RDONLY) -> tuple[ObjectInfo, int]:
        """The object at `key` and its file, open (the caller closes it): the answer
        describes exactly the bytes of that file. NoSuchBucket, NoSuchKey, AccessDenied."""
        root = self.bucket_root(bucket)
        path = key_path(key)
        for _ in range(READ_RETRIES):
            with confined(key):
                fd = root.open(path, flags | (os.O_DIRECTORY if key.endswith("/") else 0))
            try:
                info = self._describe(root, bucket, key, fd)
            except BaseException:
                os.close(fd)
                raise
            if info is not None:
                return info, fd
            os.close(fd)  # replaced while we looked: look again
        raise OssError("InternalError", f"The key {key!r} kept changing while it was read.")

    def _describe(self, root: Root, bucket: str, key: str, fd: int) -> ObjectInfo | None:
        st = os.fstat(fd)
        if key.endswith("/"):
            return folder_info(bucket, key, st, self.metadata.load(bucket, key, None))
        if not stat_module.S_ISREG(st.st_mode):
            raise OssError("NoSuchKey", extra={"Key": key})
        stamp = Stamp.of(st)
        meta = self.metadata.load(bucket, key, stamp)
        if meta is None:
            with confined(key), contextlib.suppress(FileNotFoundError):
                if Stamp.of(root.stat(key_path(key))) != stamp:
                    return None  # its attributes went with it; the new body has its own
            meta = plain_meta(key, stamp)
        return ObjectInfo(bucket, key, st.st_size, st.st_mtime, meta, stamp)

    def stat(self, bucket: str, key: str) -> ObjectInfo:
        """The object at `key`, or NoSuchBucket / NoSuchKey / AccessDenied."""
        info, fd = self.open(bucket, key, os.O_PATH)
        os.close(fd)
        return info

    def file_info(self, bucket: str, key: str, st: os.stat_result) -> ObjectInfo:
        """How a listing describes the file it found (no open: a listing is not a read)."""
        stamp = Stamp.of(st)
        meta = self.metadata.load(bucket, key, stamp) or plain_meta(key, stamp)
        return ObjectInfo(bucket, key, st.st_size, st.st_mtime, meta, stamp)

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.stat(bucket, key)
        except OssError:
            return False
        return True

    def new_writer(self) -> AtomicWriter:
        return AtomicWriter(self.temp_dir)

    def publish(
        self,
        bucket: str,
        key: str,
        writer: AtomicWriter,
        meta: ObjectMeta,
        *,
        forbid_overwrite: bool = False,
    ) -> ObjectInfo:
        """Make the writer's bytes the object `key` with attributes `meta`, in one rename.
        Whatever happens, the writer's temporary file does not outlive the call."""
        try:
            return self._publish(bucket, key, writer, meta, forbid_overwrite)
        finally:
            writer.discard()  # a no-op once published

    def _publish(
        self, bucket: str, key: str, writer: AtomicWriter, meta: ObjectMeta, forbid: bool
    ) -> ObjectInfo:
        path = key_path(key)
        root = self.ensure_bucket(bucket)
        if forbid and self.exists(bucket, key):
            raise OssError("FileAlreadyExists", extra={"Key": key})
        if key.endswith("/"):
            return self._publish_folder(root, bucket, key, writer, meta)
        with confined(key), _as_object_name(key), root.parent(path, create=True) as (fd, name):
            with contextlib.suppress(FileNotFoundError):
                if stat_module.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                    raise OssError(
                        "InvalidObjectName",
                        f"The key {key!r} is a directory in the local OSS root (other objects "
                        f"are stored under {key + '/'!r}); a file cannot replace it.",
                        extra={"Key": key},
                    )
            stamp = Stamp.of(writer.finish())
            self.metadata.save(bucket, key, meta, stamp)
            if not writer.publish_at(fd, name):  # the bucket is another file system
                self.metadata.forget(bucket, key, stamp)
                stamp = Stamp.of(writer.move_beside(fd))
                self.metadata.save(bucket, key, meta, stamp)
                writer.publish_at(fd, name)
            final = os.stat(name, dir_fd=fd, follow_symlinks=False)
        self._settle(bucket, key, meta, stamp, Stamp.of(final))
        return ObjectInfo(bucket, key, final.st_size, final.st_mtime, meta, stamp)

    def _settle(self, bucket: str, key: str, meta: ObjectMeta, mine: Stamp, current: Stamp) -> None:
        """After a rename: this version's record is there if it is still in place (a racing
        delete may have dropped it), and records of long-displaced versions go."""
        if current == mine and not self.metadata.has(bucket, key, mine):
            self.metadata.save(bucket, key, meta, mine)
        self.metadata.prune(bucket, key, current)

    def _publish_folder(
        self, root: Root, bucket: str, key: str, writer: AtomicWriter, meta: ObjectMeta
    ) -> ObjectInfo:
        if writer.size:
            raise OssError(
                "InvalidArgument",
                f"The key {key!r} ends in '/', which the local OSS root stores as a directory; "
                "it cannot hold bytes.",
                extra={"Key": key},
            )
        with confined(key), _as_object_name(key):
            fd = root.makedirs(key_path(key))
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
        folder_meta = ObjectMeta(
            etag=EMPTY_ETAG,
            content_type=meta.content_type,
            user_meta=meta.user_meta,
            headers=meta.headers,
        )
        self.metadata.save(bucket, key, folder_meta, None)
        return folder_info(bucket, key, st, folder_meta)

    def delete(self, bucket: str, key: str) -> None:
        """Remove the object if present (deleting a missing key succeeds, as on OSS)."""
        root = self.bucket_root(bucket)
        path = key_path(key)
        with confined(key), contextlib.suppress(FileNotFoundError, NotADirectoryError):
            if key.endswith("/"):
                os.close(root.open(path, os.O_PATH | os.O_DIRECTORY))  # no folder out there
            with root.parent(path) as (fd, name):
                entry = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if key.endswith("/"):
                    with contextlib.suppress(OSError):
                        os.rmdir(name, dir_fd=fd)  # only when empty: its objects stay
                elif not stat_module.S_ISDIR(entry.st_mode):
                    os.unlink(name, dir_fd=fd)  # a link goes itself, never what it leads to
        self.metadata.delete(bucket, key)
        self._prune_parents(root, bucket, path)

    def _prune_parents(self, root: Root, bucket: str, path: str) -> None:
        """Remove directories left empty, up to the bucket, keeping folder objects."""
        parent = path.rpartition("/")[0]
        while parent:
            if self.metadata.exists(bucket, parent + "/"):
                return
            try:
                root.rmdir(parent)
            except OSError:
                return
            parent = parent.rpartition("/")[0]


@contextlib.contextmanager
def _as_object_name(key: str) -> Iterator[None]:
    """A file where a directory is needed (or the reverse): the key cannot be stored."""
    try:
        yield
    except (NotADirectoryError, FileExistsError, IsADirectoryError):
        raise OssError(
            "InvalidObjectName",
            f"{key!r} or one of its parents is an object (a file) in the local OSS root, so "
            f"{key!r} cannot be stored there.",
            extra={"Key": key},
        ) from None
