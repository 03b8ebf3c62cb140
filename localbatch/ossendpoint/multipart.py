"""Multipart uploads: parts kept under `<root>/.localbatch-meta/uploads/<UploadId>/`.

Listings never show them (the directory is outside every bucket). Completing an upload
splices the chosen parts into one temporary file (kernel copy, no pass through Python
when the file system allows) and publishes it like any other object.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import asdict
from pathlib import Path

from localbatch.ossendpoint.errors import OssError
from localbatch.ossendpoint.metadata import ObjectMeta
from localbatch.ossendpoint.writer import AtomicWriter
from localbatch.ossendpoint.xmlbody import PartEntry, UploadEntry

#: OSS's limits on parts.
MAX_PART_NUMBER = 10_000
MIN_PART_SIZE = 100 * 1024


def _part_name(number: int) -> str:
    return f"part-{number:05d}"


class UploadStore:
    def __init__(self, meta_dir: Path) -> None:
        self.directory = meta_dir / "uploads"

    def _dir(self, upload_id: str) -> Path:
        if not (len(upload_id) == 32 and all(c in "0123456789ABCDEF" for c in upload_id)):
            raise OssError("NoSuchUpload", extra={"UploadId": upload_id})
        return self.directory / upload_id

    def create(self, bucket: str, key: str, meta: ObjectMeta) -> str:
        upload_id = uuid.uuid4().hex.upper()
        directory = self.directory / upload_id
        directory.mkdir(parents=True)
        record = {"bucket": bucket, "key": key, "initiated": time.time(), "meta": asdict(meta)}
        (directory / "upload.json").write_text(json.dumps(record))
        return upload_id

    def record(self, upload_id: str, bucket: str, key: str) -> dict[str, object]:
        """The upload's record; NoSuchUpload unless it exists for this bucket and key."""
        try:
            record = json.loads((self._dir(upload_id) / "upload.json").read_text())
        except (OSError, ValueError):
            raise OssError("NoSuchUpload", extra={"UploadId": upload_id}) from None
        if record.get("bucket") != bucket or record.get("key") != key:
            raise OssError("NoSuchUpload", extra={"UploadId": upload_id})
        return dict(record)

    def meta(self, upload_id: str, bucket: str, key: str) -> ObjectMeta:
        stored = self.record(upload_id, bucket, key)["meta"]
        assert isinstance(stored, dict)
        return ObjectMeta(**stored)

    def part_writer(self, upload_id: str) -> AtomicWriter:
        return AtomicWriter(self._dir(upload_id))

    def save_part(self, upload_id: str, number: int, writer: AtomicWriter) -> PartEntry:
        if not 1 <= number <= MAX_PART_NUMBER:
            writer.discard()
            raise OssError(
                "InvalidArgument",
                f"Part number must be an integer between 1 and {MAX_PART_NUMBER}.",
            )
        directory = self._dir(upload_id)
        st = writer.finish()
        entry = PartEntry(number=number, etag=writer.etag, size=st.st_size, mtime=st.st_mtime)
        (directory / f"{_part_name(number)}.json").write_text(
            json.dumps({"etag": entry.etag, "md5": writer.md5_digest.hex()})
        )
        writer.publish(directory / _part_name(number))
        return entry

    def parts(self, upload_id: str) -> list[PartEntry]:
        directory = self._dir(upload_id)
        found = []
        for data in sorted(directory.glob("part-?????")):
            try:
                record = json.loads(data.with_name(data.name + ".json").read_text())
                st = data.stat()
            except (OSError, ValueError):
                continue
            found.append(PartEntry(int(data.name[5:]), record["etag"], st.st_size, st.st_mtime))
        return found

    def uploads(self, bucket: str, prefix: str) -> list[UploadEntry]:
        found = []
        with contextlib.suppress(FileNotFoundError), os.scandir(self.directory) as entries:
            for entry in entries:
                try:
                    record = json.loads(Path(entry.path, "upload.json").read_text())
                except (OSError, ValueError):
                    continue
                if record["bucket"] == bucket and record["key"].startswith(prefix):
                    found.append(UploadEntry(record["key"], entry.name, record["initiated"]))
        return sorted(found, key=lambda u: (u.key, u.initiated))

    def assemble(self, upload_id: str, chosen: list[tuple[int, str]], writer: AtomicWriter) -> str:
        """Splice the chosen parts into `writer`; returns the multipart ETag (`MD5s-N`)."""
        if not chosen:
            raise OssError("MalformedXML", "CompleteMultipartUpload needs at least one part.")
        numbers = [number for number, _ in chosen]
        if numbers != sorted(set(numbers)):
            raise OssError("InvalidPartOrder")
        directory = self._dir(upload_id)
        stored = {part.number: part for part in self.parts(upload_id)}
        digests = hashlib.md5()
        for index, (number, etag) in enumerate(chosen):
            part = stored.get(number)
            if part is None or part.etag != etag:
                raise OssError("InvalidPart", extra={"PartNumber": str(number), "ETag": etag})
            if part.size < MIN_PART_SIZE and index < len(chosen) - 1:
                raise OssError(
                    "EntityTooSmall",
                    f"Part {number} is {part.size} bytes; every part but the last needs at "
                    f"least {MIN_PART_SIZE} bytes.",
                    extra={"PartNumber": str(number)},
                )
            digests.update(bytes.fromhex(part.etag))
            writer.splice(directory / _part_name(number))
        return f"{digests.hexdigest().upper()}-{len(chosen)}"

    def remove(self, upload_id: str) -> None:
        shutil.rmtree(self._dir(upload_id), ignore_errors=True)

    def abort(self, upload_id: str, bucket: str, key: str) -> None:
        self.record(upload_id, bucket, key)
        self.remove(upload_id)
