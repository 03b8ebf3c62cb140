"""An OSS path holding a registry's storage, as a directory the real registry can serve.

Where the OSS path is a local directory (the local root, a `file://` bucket alias), the
registry serves that directory itself: nothing is copied. Elsewhere (real OSS through
ossfs, any other fsspec alias) Debian's registry cannot read it (its build has no OSS
storage driver), so the files one image needs are copied into a local mirror first, blobs
once (they are named by their digest and checked against it), links every time (a tag can
move); and a push goes to a fresh local directory whose new files are then uploaded,
blobs first and tags last, so that a reader never sees a tag before its blobs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

from localbatch.beneath import Escape, Root
from localbatch.images.tree import V2, Blob, RegistryTree, RegistryTreeError, ResolvedImage
from localbatch.storage.errors import StorageError, describe
from localbatch.storage.resolver import Location, OssResolver
from localbatch.storage.transfer import publish_host_file

CHUNK = 2**20
#: Where a push to a remote OSS path is staged, and partial downloads wait, in the cache.
STAGING = "tmp"


class RegistryStorage:
    """The registry storage at one OSS path: its tree, and a local directory to serve."""

    def __init__(self, oss_path: str, resolver: OssResolver, mirrors: Path) -> None:
        self.oss_path = oss_path
        try:
            self.location = resolver.resolve(oss_path)
        except StorageError as exc:
            raise RegistryTreeError(f"registry path {oss_path}: {exc.message}") from exc
        self.remote = self.location.local is None
        if self.location.local is not None:
            self.local_dir = self.location.local
        else:
            identity = f"{type(self.location.fs).__name__}:{self.location.path}"
            self.local_dir = mirrors / hashlib.sha256(identity.encode()).hexdigest()[:24]
        self._mirrors = mirrors

    def tree(self) -> RegistryTree:
        return RegistryTree(self._read, self._size, self._listdir, self.oss_path)

    # -- the three file functions of the tree, on the OSS path itself ---------------------

    def _child(self, relative: str) -> Location:
        return self.location.child(relative)

    def _beneath(self, target: Location) -> tuple[Root, str] | None:
        """A local target as (its bucket's directory, its path below it): every local read
        is resolved beneath the bucket, so a link in the tree never leads out of it."""
        if target.local is None or target.bucket_dir is None:
            return None
        below = target.local.relative_to(target.bucket_dir).as_posix()
        return Root(target.bucket_dir), "" if below == "." else below

    def _failed(self, target: Location, exc: OSError) -> RegistryTreeError:
        if isinstance(exc, Escape):
            return RegistryTreeError(
                f"{target.url} leads outside its bucket directory through a symbolic link; "
                "it is not followed"
            )
        return RegistryTreeError(f"cannot read {target.url}: {describe(exc)}")

    def _read(self, relative: str) -> bytes | None:
        target = self._child(relative)
        local = self._beneath(target)
        try:
            if local is None:
                return bytes(target.fs.cat_file(target.path))
            root, path = local
            with root.opened(path) as fd, os.fdopen(os.dup(fd), "rb") as stream:
                return stream.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            raise self._failed(target, exc) from exc

    def _size(self, relative: str) -> int | None:
        target = self._child(relative)
        local = self._beneath(target)
        try:
            if local is not None:
                status = local[0].stat(local[1])
                return status.st_size if stat.S_ISREG(status.st_mode) else None
            info = target.fs.info(target.path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise self._failed(target, exc) from exc
        return int(info["size"]) if info.get("type") == "file" else None

    def _listdir(self, relative: str) -> list[str]:
        target = self._child(relative + "/")
        local = self._beneath(target)
        try:
            if local is not None:
                return [name for name, _ in local[0].entries(local[1])]
            entries = target.fs.ls(target.path, detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise self._failed(target, exc) from exc
        return [str(entry).rstrip("/").rsplit("/", 1)[-1] for entry in entries]

    # -- bringing an image's files here, and a push's files there ---------------------------

    def bring_local(self, resolved: ResolvedImage) -> None:
        """Copy what serving `resolved` reads into the local mirror (remote paths only)."""
        if not self.remote:
            return
        for blob in (*resolved.manifests, *resolved.blobs):
            self._download_blob(blob)
        for link in resolved.links:  # after the blobs: a link never points at nothing
            self._download(link, None)

    def _download_blob(self, blob: Blob) -> None:
        local = self.local_dir / blob.path
        if local.is_file() and (blob.size == 0 or local.stat().st_size == blob.size):
            return
        self._download(blob.path, blob.digest)

    def _download(self, relative: str, digest: str | None) -> None:
        """Copy one file whole (temporary name, then rename), checking `digest` if given."""
        target = self._child(relative)
        local = self.local_dir / relative
        local.parent.mkdir(parents=True, exist_ok=True)
        temporary = local.with_name(f".{local.name}.{uuid.uuid4().hex}")
        hasher = hashlib.sha256()
        try:
            with target.fs.open(target.path, "rb") as source, temporary.open("wb") as sink:
                while chunk := source.read(CHUNK):
                    hasher.update(chunk)
                    sink.write(chunk)
            if digest is not None and "sha256:" + hasher.hexdigest() != digest:
                raise RegistryTreeError(
                    f"broken blob: {target.url} does not match its digest {digest}"
                )
            os.replace(temporary, local)
        except OSError as exc:
            raise RegistryTreeError(f"cannot copy {target.url}: {describe(exc)}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()

    @contextlib.contextmanager
    def push_directory(self) -> Iterator[Path]:
        """The directory a push's registry writes into: the OSS path's own directory when
        it is local; else a fresh one whose new files are uploaded when the push succeeded."""
        if not self.remote:
            self.local_dir.mkdir(parents=True, exist_ok=True)
            yield self.local_dir
            return
        staging = self._mirrors / STAGING / f"push-{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        try:
            yield staging
            self._upload(staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _upload(self, staging: Path) -> None:
        """Upload what the registry wrote: blobs missing there, then links, tags last."""
        files = [
            path.relative_to(staging).as_posix()
            for path in sorted((staging / V2).rglob("*"))
            if path.is_file() and "/_uploads/" not in path.as_posix()
        ]
        for relative in sorted(files, key=_upload_order):
            source = staging / relative
            if relative.startswith(f"{V2}/blobs/") and self._size(relative) == (
                source.stat().st_size
            ):
                continue  # content-addressed: the same name holds the same bytes
            try:
                publish_host_file(source, self.location.child(relative))
            except OSError as exc:
                raise RegistryTreeError(
                    f"cannot upload {self.oss_path}{relative}: {describe(exc)}"
                ) from exc


def _upload_order(relative: str) -> tuple[int, str]:
    """Blobs, then repository links, then tag links (what a reader starts from) last."""
    if "/_manifests/tags/" in relative:
        return 2, relative
    if relative.startswith(f"{V2}/blobs/"):
        return 0, relative
    return 1, relative
