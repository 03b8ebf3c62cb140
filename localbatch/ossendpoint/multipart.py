"""Multipart uploads: parts kept under `<root>/.localbatch-meta/uploads/<UploadId>/`.

Listings never show them (the directory is outside every bucket). Completing an upload
splices the chosen parts into one temporary file (kernel copy, no pass through Python
when the file system allows) and publishes it like any other object.

A part is received into the root's temporary directory and renamed into its upload's
directory only when whole. Completing or aborting first claims the upload by renaming its
directory away (one atomic step), so a part racing an abort or a completion, or a second
completion, gets NoSuchUpload, and no part lands in a directory being removed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from localbatch.ossendpoint.errors import OssError
from localbatch.ossendpoint.metadata import ObjectMeta
from localbatch.ossendpoint.writer import AtomicWriter
from localbatch.ossendpoint.xmlbody import PartEntry, UploadEntry
from localbatch.tempfiles import temporary_name

#: OSS's limits on parts.
MAX_PART_NUMBER = 10_000
MIN_PART_SIZE = 100 * 1024


def _part_name(number: int) -> str:
    return f"part-{number:05d}"


class UploadStore:
    def __init__(self, meta_dir: Path) -> None:
        self.directory = meta_dir / "uploads"
        self.temp_dir = meta_dir / "tmp"

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
        self._dir(upload_id)  # a well-formed id
        return AtomicWriter(self.temp_dir)

    def save_part(self, upload_id: str, number: int, writer: AtomicWriter) -> PartEntry:
        """Move a received part into its upload; NoSuchUpload when the upload was completed
        or aborted meanwhile. The writer's temporary file never outlives the call."""
        try:
            return self._save_part(upload_id, number, writer)
        except FileNotFoundError:
            raise OssError("NoSuchUpload", extra={"UploadId": upload_id}) from None
        finally:
            writer.discard()  # a no-op once published

    def _save_part(self, upload_id: str, number: int, writer: AtomicWriter) -> PartEntry:
        if not 1 <= number <= MAX_PART_NUMBER:
            raise OssError(
                "InvalidArgument",
                f"Part number must be an integer between 1 and {MAX_PART_NUMBER}.",
            )
        directory = self._dir(upload_id)
        st = writer.finish()
        entry = PartEntry(number=number, etag=writer.etag, size=st.st_size, mtime=st.st_mtime)
        record = directory / f"{_part_name(number)}.json"
        with open(record.with_name(temporary_name()), "x") as staged:  # FileNotFoundError
            staged.write(json.dumps({"etag": entry.etag, "md5": writer.md5_digest.hex()}))
        os.replace(staged.name, record)
        writer.publish(directory / _part_name(number))
        return entry

    @contextlib.contextmanager
    def claim(self, upload_id: str) -> Iterator[Path]:
        """The upload's directory, taken away from every other request (NoSuchUpload for
        them from now on); given back if the block fails, removed if it succeeds."""
        claimed = self.directory / temporary_name()
        try:
            os.rename(self._dir(upload_id), claimed)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                raise OssError("NoSuchUpload", extra={"UploadId": upload_id}) from None
            raise
        try:
            yield claimed
        except BaseException:
            os.rename(claimed, self._dir(upload_id))
            raise
        shutil.rmtree(claimed, ignore_errors=True)

    def parts(self, upload_id: str) -> list[PartEntry]:
        return self._parts_in(self._dir(upload_id))

    def _parts_in(self, directory: Path) -> list[PartEntry]:
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
                if entry.name.startswith("."):  # claimed by a completion or an abort
                    continue
                try:
                    record = json.loads(Path(entry.path, "upload.json").read_text())
                except (OSError, ValueError):
                    continue
                if record["bucket"] == bucket and record["key"].startswith(prefix):
                    found.append(UploadEntry(record["key"], entry.name, record["initiated"]))
        return sorted(found, key=lambda u: (u.key, u.initiated))

    def assemble(self, directory: Path, chosen: list[tuple[int, str]], writer: AtomicWriter) -> str:
        """Splice the chosen parts of the (claimed) upload directory into `writer`; returns
        the multipart ETag (`MD5s-N`)."""
        if not chosen:
            raise OssError("MalformedXML", "CompleteMultipartUpload needs at least one part.")
        numbers = [number for number, _ in chosen]
        if numbers != sorted(set(numbers)):
            raise OssError("InvalidPartOrder")
        stored = {part.number: part for part in self._parts_in(directory)}
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

    def abort(self, upload_id: str, bucket: str, key: str) -> None:
        self.record(upload_id, bucket, key)
        with self.claim(upload_id):
            pass  # removed once claimed
