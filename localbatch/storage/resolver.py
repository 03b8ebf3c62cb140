"""Where an `oss://bucket/key` lives: one fsspec file system and a path in it.

Three places, decided per bucket, in this order:
1. a bucket alias from the config (`[oss.buckets] name = "file:///data/lake"`, `memory://x`,
   `s3://real/prefix`, any fsspec URL);
2. real OSS through `ossfs` when an endpoint and credentials are configured (or a job's
   `Mounts.OSS` credentials together with a configured endpoint);
3. the embedded default: the local directory `<oss-root>/<bucket>/<key>`.
Objects in a local directory also get `Location.local`, their host path, so that callers can
bind them (zero copy) instead of copying them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import fsspec
from fsspec.implementations.local import LocalFileSystem
from fsspec.spec import AbstractFileSystem

from localbatch.beneath import Escape, Root
from localbatch.config import OssSettings
from localbatch.spec.model import OssCredentials
from localbatch.storage.errors import INVALID_OSS_PATH, StorageError
from localbatch.storage.paths import OssPath, parse_oss_path

#: Where temporary upload files live on a local tree: inside the hidden directory the OSS
#: endpoint keeps its metadata in (never a bucket: bucket names cannot start with a dot), so
#: listings never show half-written objects.
ROOT_TMP_DIR = ".localbatch-meta/tmp"


@dataclass(frozen=True)
class Location:
    """One resolved OSS path. `path` has no trailing '/'; `local` is set for local trees."""

    oss: OssPath
    fs: AbstractFileSystem
    path: str
    local: Path | None
    #: The directory that `local` must stay inside (the bucket's directory), when local.
    bucket_dir: Path | None = None
    #: Where temporary files for this location go (same file system as `local`).
    tmp_dir: Path | None = None

    @property
    def url(self) -> str:
        return self.oss.url

    def child(self, relative: str) -> Location:
        """The object `relative` under this folder (whoever uses it resolves it beneath the
        bucket's directory again)."""
        oss = self.oss.child(relative)
        path = f"{self.path}/{relative}" if self.path else relative
        local = self.local / relative if self.local is not None else None
        return Location(oss, self.fs, path, local, self.bucket_dir, self.tmp_dir)


def _check_beneath(bucket_dir: Path, oss: OssPath) -> None:
    """Refuse early, with a clear error before any program runs, a path whose existing part
    leads out of its bucket through a symbolic link. Only a first answer: every read and
    write resolves the path beneath the bucket again (a link planted later is caught there)."""
    root = Root(bucket_dir)
    for depth in range(len(oss.parts), 0, -1):
        try:
            root.stat("/".join(oss.parts[:depth]))
        except Escape:
            raise StorageError(
                INVALID_OSS_PATH,
                f"{oss.url} resolves outside its bucket directory {bucket_dir} (a symbolic link "
                "leads out)",
            ) from None
        except (FileNotFoundError, NotADirectoryError):
            continue  # look at the part that exists
        except OSError:
            return  # a link loop, no permission: the step that uses the path will say
        return


class OssResolver:
    """Turns OSS paths into `Location`s for one set of settings and (optional) credentials."""

    def __init__(self, settings: OssSettings, credentials: OssCredentials | None = None) -> None:
        self._settings = settings
        self._credentials = credentials
        self._lock = threading.Lock()
        self._remote: AbstractFileSystem | None = None
        self._aliases: dict[str, tuple[AbstractFileSystem, str]] = {}

    @property
    def root(self) -> Path:
        return self._settings.root

    @property
    def uses_remote_oss(self) -> bool:
        """True when buckets without an alias go to real OSS (ossfs)."""
        creds = self._credentials
        if creds and creds.access_key_id and creds.access_key_secret:
            return bool(self._settings.endpoint)
        return self._settings.remote

    def with_credentials(self, credentials: OssCredentials | None) -> OssResolver:
        """A resolver using a job's `Mounts.OSS` credentials (they apply only with an endpoint)."""
        if not credentials or not (credentials.access_key_id and credentials.access_key_secret):
            return self
        return OssResolver(self._settings, credentials)

    def resolve(self, url: str | OssPath) -> Location:
        oss = parse_oss_path(url) if isinstance(url, str) else url
        alias = self._settings.bucket_aliases.get(oss.bucket)
        if alias is not None:
            return self._resolve_alias(oss, alias)
        if self.uses_remote_oss:
            return Location(oss, self._remote_fs(), f"/{oss.bucket}/{oss.key}".rstrip("/"), None)
        return self._local(
            oss, self._settings.root / oss.bucket, self._settings.root / ROOT_TMP_DIR
        )

    def _local(self, oss: OssPath, bucket_dir: Path, tmp_dir: Path) -> Location:
        local = bucket_dir.joinpath(*oss.parts)
        _check_beneath(bucket_dir, oss)
        return Location(oss, LocalFileSystem(), str(local), local, bucket_dir, tmp_dir)

    def _resolve_alias(self, oss: OssPath, alias: str) -> Location:
        if "://" not in alias or alias.startswith("file://"):
            directory = Path(urlsplit(alias).path if "://" in alias else alias).expanduser()
            return self._local(oss, directory, directory / ROOT_TMP_DIR)
        with self._lock:
            if alias not in self._aliases:
                try:
                    fs, root = fsspec.core.url_to_fs(alias)
                except (ImportError, ValueError) as exc:
                    raise StorageError(
                        INVALID_OSS_PATH,
                        f"bucket {oss.bucket!r} is aliased to {alias!r}, which fsspec cannot open: "
                        f"{exc}",
                    ) from exc
                self._aliases[alias] = (fs, str(root).rstrip("/"))
            fs, base = self._aliases[alias]
        path = "/".join(part for part in (base, *oss.parts) if part) if oss.parts else base
        if base.startswith("/") and not path.startswith("/"):
            path = "/" + path
        return Location(oss, fs, path, None)

    def _remote_fs(self) -> AbstractFileSystem:
        with self._lock:
            if self._remote is None:
                from ossfs import OSSFileSystem  # imported only when real OSS is used

                creds = self._credentials
                if creds and creds.access_key_id and creds.access_key_secret:
                    key, secret, token = (
                        creds.access_key_id,
                        creds.access_key_secret,
                        creds.security_token,
                    )
                else:
                    key = self._settings.access_key_id
                    secret = self._settings.access_key_secret
                    token = self._settings.security_token
                self._remote = OSSFileSystem(
                    endpoint=self._settings.endpoint,
                    key=key,
                    secret=secret,
                    token=token or None,
                    skip_instance_cache=True,
                )
            return self._remote

    def secrets(self) -> tuple[str, ...]:
        """The secret values in use, so that error texts can be scrubbed of them."""
        values = [self._settings.access_key_secret, self._settings.security_token]
        if self._credentials:
            values += [self._credentials.access_key_secret, self._credentials.security_token]
        return tuple(v for v in values if v)

    def __repr__(self) -> str:  # never show credentials
        return f"OssResolver(root={self._settings.root!s}, remote={self.uses_remote_oss})"
