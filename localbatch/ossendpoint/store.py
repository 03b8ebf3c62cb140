"""Objects as files under the OSS root: look up, publish, delete, buckets.

Blocking file-system code only (the HTTP layer runs it in worker threads). A bucket is a
top-level directory; a key ending in '/' is a directory ("folder" object, always empty of
bytes); the parents of a deleted object are removed again once empty, unless they were
created as folder objects, so listings look like OSS's.
"""

from __future__ import annotations

import contextlib
import os
import stat as stat_module
from dataclasses import dataclass
from pathlib import Path

from localbatch.ossendpoint.errors import OssError
from localbatch.ossendpoint.metadata import MetadataStore, ObjectMeta, Stamp, plain_meta
from localbatch.ossendpoint.naming import META_DIR_NAME, check_bucket_name, object_path
from localbatch.ossendpoint.writer import AtomicWriter
from localbatch.spec.buckets import is_bucket_name

#: ETag of zero bytes, as OSS reports it for folder objects.
EMPTY_ETAG = "D41D8CD98F00B204E9800998ECF8427E"
#: Name prefix of temporary files that may sit beside objects; never listed.
TEMPORARY_PREFIX = ".localbatch-upload-"


@dataclass(frozen=True)
class ObjectInfo:
    """One object as the endpoint answers it."""

    bucket: str
    key: str
    path: Path
    size: int
    mtime: float
    meta: ObjectMeta


def folder_info(
    bucket: str, key: str, path: Path, st: os.stat_result, meta: ObjectMeta | None
) -> ObjectInfo:
    return ObjectInfo(
        bucket=bucket,
        key=key,
        path=path,
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

    # Buckets -------------------------------------------------------------------------------

    def bucket_dir(self, bucket: str) -> Path:
        check_bucket_name(bucket)
        return self.root / bucket

    def require_bucket(self, bucket: str) -> Path:
        directory = self.bucket_dir(bucket)
        if not directory.is_dir():
            raise OssError("NoSuchBucket", extra={"BucketName": bucket})
        return directory

    def ensure_bucket(self, bucket: str) -> Path:
        """Writes create a missing bucket: the local root has no other way to make one."""
        directory = self.bucket_dir(bucket)
        directory.mkdir(parents=True, exist_ok=True)
        return directory

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

    def stat(self, bucket: str, key: str) -> ObjectInfo:
        """The object at `key`, or NoSuchBucket / NoSuchKey."""
        self.require_bucket(bucket)
        path = object_path(self.root, bucket, key)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise OssError("NoSuchKey", extra={"Key": key}) from None
        if key.endswith("/"):
            if not stat_module.S_ISDIR(st.st_mode):
                raise OssError("NoSuchKey", extra={"Key": key})
            return folder_info(bucket, key, path, st, self.metadata.load(bucket, key, None))
        if not stat_module.S_ISREG(st.st_mode):
            raise OssError("NoSuchKey", extra={"Key": key})
        return self.file_info(bucket, key, path, st)

    def file_info(self, bucket: str, key: str, path: Path, st: os.stat_result) -> ObjectInfo:
        stamp = Stamp.of(st)
        meta = self.metadata.load(bucket, key, stamp) or plain_meta(key, stamp)
        return ObjectInfo(bucket, key, path, st.st_size, st.st_mtime, meta)

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
        """Make the writer's bytes the object `key` with attributes `meta`, in one rename."""
        self.ensure_bucket(bucket)
        path = object_path(self.root, bucket, key)
        if forbid_overwrite and self.exists(bucket, key):
            writer.discard()
            raise OssError("FileAlreadyExists", extra={"Key": key})
        if key.endswith("/"):
            return self._publish_folder(bucket, key, path, writer, meta)
        if path.is_dir():
            writer.discard()
            raise OssError(
                "InvalidObjectName",
                f"The key {key!r} is a directory in the local OSS root (other objects are "
                f"stored under {key + '/'!r}); a file cannot replace it.",
                extra={"Key": key},
            )
        st = writer.finish()
        self.metadata.save(bucket, key, meta, Stamp.of(st))
        try:
            writer.publish(path)
        except (NotADirectoryError, FileExistsError):
            writer.discard()
            raise OssError(
                "InvalidObjectName",
                f"A parent of {key!r} is an object (a file) in the local OSS root, so {key!r} "
                "cannot be stored as a path below it.",
                extra={"Key": key},
            ) from None
        final = os.stat(path)
        if Stamp.of(final) != Stamp.of(st):
            self.metadata.save(bucket, key, meta, Stamp.of(final))
        return ObjectInfo(bucket, key, path, final.st_size, final.st_mtime, meta)

    def _publish_folder(
        self, bucket: str, key: str, path: Path, writer: AtomicWriter, meta: ObjectMeta
    ) -> ObjectInfo:
        writer.discard()
        if writer.size:
            raise OssError(
                "InvalidArgument",
                f"The key {key!r} ends in '/', which the local OSS root stores as a directory; "
                "it cannot hold bytes.",
                extra={"Key": key},
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
        except (NotADirectoryError, FileExistsError):
            raise OssError(
                "InvalidObjectName",
                f"{key!r} or one of its parents is an object (a file) in the local OSS root.",
                extra={"Key": key},
            ) from None
        folder_meta = ObjectMeta(
            etag=EMPTY_ETAG,
            content_type=meta.content_type,
            user_meta=meta.user_meta,
            headers=meta.headers,
        )
        self.metadata.save(bucket, key, folder_meta, None)
        return folder_info(bucket, key, path, os.stat(path), folder_meta)

    def delete(self, bucket: str, key: str) -> None:
        """Remove the object if present (deleting a missing key succeeds, as on OSS)."""
        bucket_dir = self.require_bucket(bucket)
        path = object_path(self.root, bucket, key)
        self.metadata.delete(bucket, key)
        if key.endswith("/"):
            with contextlib.suppress(OSError):
                path.rmdir()  # only when empty: the folder's other objects stay
        else:
            try:
                if not path.is_dir():
                    path.unlink()
            except (FileNotFoundError, NotADirectoryError):
                return
        self._prune_parents(bucket, bucket_dir, path.parent)

    def _prune_parents(self, bucket: str, bucket_dir: Path, directory: Path) -> None:
        """Remove directories left empty, up to the bucket, keeping folder objects."""
        while directory != bucket_dir and bucket_dir in directory.parents:
            folder_key = directory.relative_to(bucket_dir).as_posix() + "/"
            if self.metadata.exists(bucket, folder_key):
                return
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent
