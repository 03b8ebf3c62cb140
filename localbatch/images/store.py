"""The cache of prepared root file systems: one directory per image digest, made once.

Layout under the cache directory (`image_cache`, default `<state-dir>/images`):
`rootfs/<key>/rootfs/` (the files) and `rootfs/<key>/image.json` (its environment and
source); `names/<hash>.json` (a name `localbatch images build` made, and its key);
`locks/` (one lock file per key, so that processes sharing the cache prepare an image
once); `tmp/` (preparations in progress: renamed into `rootfs/` when complete, so a
half-made root file system is never used). Entries are never changed once made; a
cached lookup is a dictionary hit.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from localbatch.runtime.image_supply import ImageProblem, PreparedRootfs, make_mount_points

IMAGE_JSON = "image.json"
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")


@dataclass(frozen=True)
class RunConfig:
    """What an image's config says about running it that a sandbox must apply."""

    env: Mapping[str, str] = field(default_factory=dict)
    entrypoint: tuple[str, ...] = ()

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> RunConfig:
        """From an image config (`{"config": {"Env": [...], "Entrypoint": [...]}}`)."""
        inner = config.get("config")
        inner = inner if isinstance(inner, Mapping) else {}
        env: dict[str, str] = {}
        for entry in inner.get("Env") or []:
            if isinstance(entry, str) and "=" in entry:
                key, _, value = entry.partition("=")
                env[key] = value
        entrypoint = inner.get("Entrypoint") or []
        words = entrypoint if isinstance(entrypoint, list) else []
        return cls(env, tuple(str(word) for word in words))


#: Fills a new directory with `rootfs/` and answers how the image runs.
Fill = Callable[[Path], RunConfig]


class RootfsStore:
    """Prepared root file systems under `root`, shared by every process using it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._known: dict[str, PreparedRootfs] = {}
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @property
    def attempts_dir(self) -> Path:
        """Where attempts' private layers live (runtime.rootfs)."""
        return self.root / "attempts"

    @property
    def mirrors_dir(self) -> Path:
        """Where the files of registries on remote OSS paths are copied."""
        return self.root / "registry-mirrors"

    def _entry(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ImageProblem(f"{key!r} is not an image cache key")
        return self.root / "rootfs" / key

    def get(self, key: str) -> PreparedRootfs | None:
        """The prepared root file system of `key`, if it was made."""
        known = self._known.get(key)
        if known is not None:
            return known
        entry = self._entry(key)
        try:
            data = json.loads((entry / IMAGE_JSON).read_text())
        except (OSError, ValueError):
            return None
        prepared = PreparedRootfs(
            key,
            entry / "rootfs",
            {str(k): str(v) for k, v in dict(data.get("env") or {}).items()},
            tuple(str(word) for word in data.get("entrypoint") or []),
            str(data.get("source", "")),
        )
        self._known[key] = prepared
        return prepared

    def prepare(self, key: str, source: str, fill: Fill) -> PreparedRootfs:
        """The root file system of `key`, made by `fill` unless another thread or process
        made it first; `source` says where it came from."""
        found = self.get(key)
        if found is not None:
            return found
        with self._key_lock(key):
            found = self.get(key)
            if found is not None:
                return found
            work = self.root / "tmp" / f"{os.getpid()}-{uuid.uuid4().hex}"
            work.mkdir(parents=True)
            try:
                run = fill(work)
                make_mount_points(work / "rootfs")
                record = {
                    "key": key,
                    "env": dict(run.env),
                    "entrypoint": list(run.entrypoint),
                    "source": source,
                }
                (work / IMAGE_JSON).write_text(json.dumps(record, indent=1))
                entry = self._entry(key)
                entry.parent.mkdir(parents=True, exist_ok=True)
                os.rename(work, entry)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        prepared = self.get(key)
        assert prepared is not None
        return prepared

    def adopt(self, key: str, source: str, rootfs: Path, run: RunConfig) -> PreparedRootfs:
        """Move the finished directory `rootfs` (same file system) into the cache as `key`."""

        def fill(work: Path) -> RunConfig:
            os.rename(rootfs, work / "rootfs")
            return run

        return self.prepare(key, source, fill)

    @contextlib.contextmanager
    def _key_lock(self, key: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            locks = self.root / "locks"
            locks.mkdir(parents=True, exist_ok=True)
            with (locks / f"{key}.lock").open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                yield

    # -- names made here (the default image built without an engine) -----------------------

    def _name_file(self, name: str) -> Path:
        return self.root / "names" / f"{hashlib.sha256(name.encode()).hexdigest()[:32]}.json"

    def record_name(self, name: str, key: str) -> None:
        path = self._name_file(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        temporary.write_text(json.dumps({"name": name, "key": key}))
        os.replace(temporary, path)

    def named(self, name: str) -> PreparedRootfs | None:
        """The root file system recorded for `name` (by `localbatch images build`)."""
        try:
            data = json.loads(self._name_file(name).read_text())
        except (OSError, ValueError):
            return None
        if data.get("name") != name:
            return None
        return self.get(str(data.get("key", "")))

    def clean_stale(self) -> None:
        """Remove preparations that processes which died left half-made."""
        with contextlib.suppress(FileNotFoundError):
            for leftover in (self.root / "tmp").iterdir():
                pid, _, _ = leftover.name.partition("-")
                if pid.isdigit() and not psutil.pid_exists(int(pid)):
                    shutil.rmtree(leftover, ignore_errors=True)
