"""What a plain file cannot hold: ETag, content type, object type, `x-oss-meta-*` headers.

Kept in a sidecar JSON file per object under `<root>/.localbatch-meta/objects/`, named by a
hash of bucket and key (so no key can collide with another or with a directory). Each
sidecar records the stat stamp (size, mtime, inode) of the file it describes: when the file
was since replaced by the mappings or by hand, the sidecar no longer matches and the file
is served as a plain file, with a content type guessed from its name and an ETag derived
from its stamp.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mimetypes
import os
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_CONTENT_TYPE = "application/octet-stream"
#: Standard headers stored with an object and answered on GET/HEAD.
STORED_HEADERS = (
    "Cache-Control",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Expires",
)


@dataclass(frozen=True)
class Stamp:
    """Identifies one version of a file: any rewrite changes at least one field."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> Stamp:
        return cls(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino)

    def derived_etag(self) -> str:
        """A stable ETag for a file with no recorded one (hashing content would cost a read)."""
        text = f"{self.size}:{self.mtime_ns}:{self.inode}"
        return hashlib.md5(text.encode()).hexdigest().upper()


@dataclass(frozen=True)
class ObjectMeta:
    """The recorded attributes of one object version."""

    etag: str
    content_type: str = DEFAULT_CONTENT_TYPE
    #: "Normal", "Appendable" or "Multipart", as OSS reports in `x-oss-object-type`.
    object_type: str = "Normal"
    #: `x-oss-meta-*` headers, names lower-cased with the prefix kept.
    user_meta: Mapping[str, str] = field(default_factory=dict)
    #: Other stored headers (STORED_HEADERS).
    headers: Mapping[str, str] = field(default_factory=dict)


def guessed_content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or DEFAULT_CONTENT_TYPE


def plain_meta(key: str, stamp: Stamp) -> ObjectMeta:
    """How a file nobody described through the endpoint is presented."""
    return ObjectMeta(etag=stamp.derived_etag(), content_type=guessed_content_type(key))


class MetadataStore:
    """Sidecar files under `<meta_dir>/objects/`."""

    def __init__(self, meta_dir: Path) -> None:
        self.directory = meta_dir / "objects"

    def _path(self, bucket: str, key: str) -> Path:
        digest = hashlib.sha256(f"{bucket}/{key}".encode("utf-8", "surrogateescape")).hexdigest()
        return self.directory / digest[:2] / f"{digest}.json"

    def load(self, bucket: str, key: str, stamp: Stamp | None) -> ObjectMeta | None:
        """The recorded attributes if they describe exactly this file version (or directory)."""
        try:
            record = json.loads(self._path(bucket, key).read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != key:
            return None
        if stamp is not None and record.get("stamp") != asdict(stamp):
            return None
        try:
            return ObjectMeta(**record["meta"])
        except (KeyError, TypeError):
            return None

    def save(self, bucket: str, key: str, meta: ObjectMeta, stamp: Stamp | None) -> None:
        """Record `meta` for the file version `stamp` (None for a directory marker)."""
        path = self._path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "key": key,
            "stamp": asdict(stamp) if stamp else None,
            "meta": {
                **asdict(meta),
                "user_meta": dict(meta.user_meta),
                "headers": dict(meta.headers),
            },
        }
        temporary = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
        temporary.write_text(json.dumps(record))
        os.replace(temporary, path)

    def exists(self, bucket: str, key: str) -> bool:
        return self._path(bucket, key).exists()

    def delete(self, bucket: str, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(bucket, key).unlink()
