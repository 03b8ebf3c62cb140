"""`oss://bucket/key` parsed and checked once, so that no key can name a file outside its root.

OSS itself accepts almost any key; a local directory tree does not. Keys that would leave
the bucket's directory (`..`, `.`, empty segments such as `a//b` or a leading `/`, NUL)
are refused here with `InvalidOssPath`, before anything touches a file system.
"""

from __future__ import annotations

from dataclasses import dataclass

from localbatch.spec.buckets import BUCKET_RULE, is_bucket_name
from localbatch.storage.errors import INVALID_OSS_PATH, StorageError

SCHEME = "oss://"


@dataclass(frozen=True)
class OssPath:
    """A checked OSS path; `key` is "" for the bucket itself, ends with "/" for a folder."""

    bucket: str
    key: str

    @property
    def url(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.key}"

    @property
    def is_folder(self) -> bool:
        return self.key == "" or self.key.endswith("/")

    @property
    def parts(self) -> tuple[str, ...]:
        """The key's segments, without the folder's trailing empty one."""
        return tuple(part for part in self.key.split("/") if part)

    def child(self, relative: str) -> OssPath:
        """The object `relative` (a '/'-separated path) under this folder, checked again."""
        if not self.is_folder:
            raise StorageError(INVALID_OSS_PATH, f"{self.url} is not a folder (must end with '/')")
        return parse_oss_path(self.url + relative)


def parse_oss_path(url: str) -> OssPath:
    """Check `url` and split it; raises StorageError("InvalidOssPath") with the reason."""
    if not isinstance(url, str) or not url.startswith(SCHEME):
        raise StorageError(
            INVALID_OSS_PATH, f"{url!r} is not an OSS path: it must start with 'oss://'"
        )
    if "\x00" in url:
        raise StorageError(INVALID_OSS_PATH, f"{url!r} contains a NUL character")
    bucket, _, key = url[len(SCHEME) :].partition("/")
    if not is_bucket_name(bucket):
        raise StorageError(
            INVALID_OSS_PATH, f"{url!r} does not name a valid bucket ({BUCKET_RULE})"
        )
    segments = key.split("/")
    inner = segments[:-1] if key.endswith("/") else segments
    if key and any(part in ("", ".", "..") for part in inner):
        raise StorageError(
            INVALID_OSS_PATH,
            f"{url!r} has an empty, '.' or '..' segment: it would resolve outside its bucket",
        )
    return OssPath(bucket=bucket, key=key)


def safe_relative(path: str) -> str:
    """Check a '/'-separated relative path taken from a directory walk (for object keys)."""
    if path.startswith("/") or any(part in ("", ".", "..") for part in path.split("/")):
        raise StorageError(INVALID_OSS_PATH, f"{path!r} cannot be used as part of an OSS key")
    return path
