"""What a plain file cannot hold: ETag, content type, object type, `x-oss-meta-*` headers.

Kept in sidecar JSON files under `<root>/.localbatch-meta/objects/`, one directory per
object (named by a hash of bucket and key, so no key can collide with another) and one
file per version of the object, named by its stat stamp (size, mtime, inode). A version's
sidecar is written before its body is renamed into place and never changed afterwards, so
a reader that opened a body finds exactly that body's attributes, however many writers
race: body, ETag, Content-Type and user metadata are published together by the one
rename. A file since replaced by the mappings or by hand has no sidecar of its stamp and
is served as a plain file, with a content type guessed from its name and an ETag derived
from its stamp. Sidecars of versions no longer in place are pruned by later writers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mimetypes
import os
import shutil
import time
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


#: A displaced version's sidecar is pruned once it is this old (a writer writes its sidecar
#: moments before its rename; a reader reads one moments after its open).
PRUNE_AFTER = 60.0
FOLDER_RECORD = "folder.json"


class MetadataStore:
    """Sidecar files under `<meta_dir>/objects/<xx>/<hash>/`."""

    def __init__(self, meta_dir: Path) -> None:
        self.directory = meta_dir / "objects"

    def _dir(self, bucket: str, key: str) -> Path:
        digest = hashlib.sha256(f"{bucket}/{key}".encode("utf-8", "surrogateescape")).hexdigest()
        return self.directory / digest[:2] / digest

    def _path(self, bucket: str, key: str, stamp: Stamp | None) -> Path:
        if stamp is None:
            return self._dir(bucket, key) / FOLDER_RECORD
        return self._dir(bucket, key) / f"{stamp.size}-{stamp.mtime_ns}-{stamp.inode}.json"

    def load(self, bucket: str, key: str, stamp: Stamp | None) -> ObjectMeta | None:
        """The recorded attributes of exactly this file version (or of the folder object)."""
        try:
            record = json.loads(self._path(bucket, key, stamp).read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != key:
            return None
        try:
            return ObjectMeta(**record["meta"])
        except (KeyError, TypeError):
            return None

    def save(self, bucket: str, key: str, meta: ObjectMeta, stamp: Stamp | None) -> None:
        """Record `meta` for the file version `stamp` (None for a folder object)."""
        path = self._path(bucket, key, stamp)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "key": key,
            "meta": {
                **asdict(meta),
                "user_meta": dict(meta.user_meta),
                "headers": dict(meta.headers),
            },
        }
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        temporary.write_text(json.dumps(record))
        os.replace(temporary, path)

    def has(self, bucket: str, key: str, stamp: Stamp | None) -> bool:
        return self._path(bucket, key, stamp).exists()

    def exists(self, bucket: str, key: str) -> bool:
        """Whether `key` was created as a folder object."""
        return self.has(bucket, key, None)

    def forget(self, bucket: str, key: str, stamp: Stamp | None) -> None:
        """Drop one version's record."""
        with contextlib.suppress(FileNotFoundError):
            self._path(bucket, key, stamp).unlink()

    def prune(self, bucket: str, key: str, current: Stamp | None) -> None:
        """Drop the records of file versions other than `current` old enough to be displaced."""
        keep = self._path(bucket, key, current).name if current else None
        limit = time.time() - PRUNE_AFTER
        with contextlib.suppress(FileNotFoundError), os.scandir(self._dir(bucket, key)) as found:
            for entry in found:
                if entry.name in (keep, FOLDER_RECORD) or entry.name.startswith("."):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if entry.stat().st_mtime < limit:
                        os.unlink(entry.path)

    def delete(self, bucket: str, key: str) -> None:
        """Forget every version of `key` and its folder record."""
        shutil.rmtree(self._dir(bucket, key), ignore_errors=True)
