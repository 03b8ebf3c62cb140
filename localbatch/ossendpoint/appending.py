"""AppendObject (`POST ?append&position=N`): Appendable objects grow in place.

The first append creates the object through the atomic writer; later appends write at the
end of the existing file and fsync, so a reader of the file may see an append in progress
(documented). The ETag of an Appendable object is derived from its file stamp, since
hashing the whole object on every append would make appends quadratic.
"""

from __future__ import annotations

import os

from localbatch.ossendpoint.errors import OssError
from localbatch.ossendpoint.metadata import ObjectMeta, Stamp
from localbatch.ossendpoint.store import ObjectInfo, ObjectStore
from localbatch.ossendpoint.writer import AtomicWriter, HashedSink

APPENDABLE = "Appendable"


def _position_error(expected: int) -> OssError:
    return OssError(
        "PositionNotEqualToLength",
        extra={"NextAppendPosition": str(expected)},
        headers={"x-oss-next-append-position": str(expected)},
    )


class InPlaceAppender(HashedSink):
    """Writes one append at the end of an existing Appendable object's file."""

    def __init__(self, fd: int) -> None:
        """`fd`: the object's file, open for appending (this appender closes it)."""
        super().__init__(os.fdopen(fd, "ab"))
        self._before = os.fstat(self._file.fileno())

    def finish(self) -> os.stat_result:
        self._file.flush()
        os.fsync(self._file.fileno())
        st = os.fstat(self._file.fileno())
        self._file.close()
        return st

    def discard(self) -> None:
        """Undo an append cut short: a failed OSS append leaves the object unchanged."""
        if not self._file.closed:
            self._file.flush()
            os.ftruncate(self._file.fileno(), self._before.st_size)
            # Same size and times again, so the recorded attributes still describe the file.
            times = (self._before.st_atime_ns, self._before.st_mtime_ns)
            os.utime(self._file.fileno(), ns=times)
            self._file.close()


def prepare_append(
    store: ObjectStore, bucket: str, key: str, position: int
) -> tuple[ObjectInfo | None, AtomicWriter | InPlaceAppender]:
    """The existing object (None when new) and where this append's bytes go."""
    store.ensure_bucket(bucket)
    if key.endswith("/"):
        raise OssError("InvalidObjectName", "A folder key (ending in '/') cannot be appended to.")
    try:
        info, fd = store.open(bucket, key, os.O_WRONLY | os.O_APPEND)
    except OssError as exc:
        if exc.code != "NoSuchKey":
            raise
        if position != 0:
            raise _position_error(0) from None
        return None, store.new_writer()
    try:
        if info.meta.object_type != APPENDABLE:
            raise OssError("ObjectNotAppendable", extra={"Key": key})
        if position != info.size:
            raise _position_error(info.size)
        return info, InPlaceAppender(fd)
    except BaseException:
        os.close(fd)
        raise


def finish_append(
    store: ObjectStore,
    bucket: str,
    key: str,
    existing: ObjectInfo | None,
    sink: AtomicWriter | InPlaceAppender,
    new_meta: ObjectMeta,
) -> ObjectInfo:
    """Publish (first append) or record the grown file; returns the object after the append."""
    if isinstance(sink, AtomicWriter):
        st = sink.finish()
        meta = ObjectMeta(
            etag=Stamp.of(st).derived_etag(),
            content_type=new_meta.content_type,
            object_type=APPENDABLE,
            user_meta=new_meta.user_meta,
            headers=new_meta.headers,
        )
        return store.publish(bucket, key, sink, meta)
    assert existing is not None
    st = sink.finish()
    stamp = Stamp.of(st)
    meta = ObjectMeta(
        etag=stamp.derived_etag(),
        content_type=existing.meta.content_type,
        object_type=APPENDABLE,
        user_meta=existing.meta.user_meta,
        headers=existing.meta.headers,
    )
    store.metadata.save(bucket, key, meta, stamp)
    store.metadata.forget(bucket, key, existing.stamp)
    return ObjectInfo(bucket, key, st.st_size, st.st_mtime, meta, stamp)
