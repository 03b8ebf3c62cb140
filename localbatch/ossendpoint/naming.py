"""Bucket names and object keys, and where they live under the OSS root.

`oss://bucket/key` is the file `<root>/<bucket>/<key>` (the storage layer's layout). A key
is refused when the file system cannot hold it faithfully or when it would leave the
bucket's directory: empty segments (`a//b`), `.` and `..` segments, NUL bytes, and
segments longer than a file name may be (255 bytes).
"""

from __future__ import annotations

from localbatch.ossendpoint.errors import OssError
from localbatch.spec.buckets import BUCKET_RULE, is_bucket_name

#: The service's limit on a key, in UTF-8 bytes.
MAX_KEY_BYTES = 1023
#: The local file system's limit on one name (NAME_MAX): one segment of a key.
MAX_SEGMENT_BYTES = 255
#: Top-level directory of the root holding metadata, uploads and temporary files.
META_DIR_NAME = ".localbatch-meta"


def check_bucket_name(name: str) -> None:
    if not is_bucket_name(name):
        raise OssError(
            "InvalidBucketName",
            f"The specified bucket {name!r} is not valid: {BUCKET_RULE}.",
            extra={"BucketName": name},
        )


def check_key(key: str) -> None:
    """Refuse keys OSS refuses, and keys the local root cannot store as a path."""
    if not key:
        raise OssError("InvalidObjectName", "The object key must not be empty.")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise OssError("InvalidObjectName", f"The object key is longer than {MAX_KEY_BYTES} bytes.")
    if key.startswith(("/", "\\")):
        raise OssError("InvalidObjectName", "The object key must not start with '/' or '\\'.")
    if "\x00" in key:
        raise OssError("InvalidObjectName", "The object key must not contain a NUL byte.")
    segments = key.split("/")
    if key.endswith("/"):
        segments = segments[:-1]
    for segment in segments:
        if len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES:
            raise OssError(
                "InvalidObjectName",
                f"A segment of the key (between '/') is longer than {MAX_SEGMENT_BYTES} bytes, "
                "which the local OSS root cannot store as a file name.",
                extra={"Key": key},
            )
        if segment in ("", ".", ".."):
            raise OssError(
                "InvalidObjectName",
                f"The key {key!r} has an empty, '.' or '..' segment, which the local OSS root "
                "cannot store inside the bucket's directory.",
                extra={"Key": key},
            )
