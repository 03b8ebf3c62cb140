"""Storage for one job: what each attempt of an instance needs before and after it runs.

`JobStorage.prepare` builds an attempt's private work directory (the package unpacked),
what the program sees besides (InputMapping read-only, OutputMapping directories,
LogMapping files, Mounts, the data disk), described as `needs` that a runtime places, and
the log files; `PreparedAttempt.start_streaming` pushes logs while the
program runs; `JobStorage.finish` pushes the logs completely, uploads the OutputMapping
directories and removes the attempt's directories. Host layout under `<work_root>`:

    attempts/<task>.<instance>.<attempt>/workdir      /batchcompute/workdir
    attempts/<task>.<instance>.<attempt>/workdir.upper|scratch   its overlay layers, if mounted
    attempts/<task>.<instance>.<attempt>/outputs/<n>  OutputMapping n (empty at start)
    attempts/<task>.<instance>.<attempt>/datadisk     AutoCluster DataDisk MountPoint
    logs/<task>.<instance>.stdout|stderr              appended across retries
    logs/<task>.<instance>.mapped/<n>/<basename>      LogMapping n
    inputs/<hash>                                     remote inputs, downloaded once per job
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from localbatch import tempfiles
from localbatch.config import Config
from localbatch.spec.model import Job, Task
from localbatch.storage import overlay
from localbatch.storage.cache_pruning import Hold
from localbatch.storage.errors import (
    INPUT_MAPPING_ERROR,
    INVALID_OSS_PATH,
    LOG_UPLOAD_FAILED,
    MOUNT_ERROR,
    OUTPUT_UPLOAD_FAILED,
    PACKAGE_ERROR,
    StorageError,
)
from localbatch.storage.layout import (
    instance_suffix,
    log_file_name,
    logs_dir,
    redirect_object_name,
)
from localbatch.storage.logs import Cadence, LogStreamer, LogTarget
from localbatch.storage.mounts import container_path, mount_needs
from localbatch.storage.needs import Access, Need, NeedKind, package_view
from localbatch.storage.outputs import upload_directory
from localbatch.storage.packages import CachedPackage, Copying, CopyMode, PackageCache
from localbatch.storage.redaction import redact_text
from localbatch.storage.resolver import ROOT_TMP_DIR, Location, OssResolver
from localbatch.storage.views import ViewCache

__all__ = ["JobStorage", "PreparedAttempt", "StorageError"]

log = logging.getLogger(__name__)

#: One package cache per directory for the whole process, so jobs share unpacked archives.
_CACHES: dict[tuple[Path, str], PackageCache] = {}
_CACHES_LOCK = threading.Lock()


def package_cache(config: Config, copy_mode: CopyMode | None = None) -> PackageCache:
    """The process's cache for the config's state dir; the first use of a state dir (as
    root) also unmounts overlay work directories that a dead localbatch process left
    mounted there."""
    state_dir = config.state_dir
    mode = copy_mode or cast(CopyMode, config.package_copy)
    with _CACHES_LOCK:
        key = (state_dir, mode)
        if key not in _CACHES:
            if os.geteuid() == 0 and not any(known == state_dir for known, _ in _CACHES):
                overlay.clean_stale(state_dir)
            _CACHES[key] = PackageCache(
                state_dir / "cache" / "packages",
                copy_mode=mode,
                max_unpacked=config.package_max_unpacked,
                cache_size=config.package_cache_size,
            )
        return _CACHES[key]


def package_copy_notice(config: Config) -> str:
    """The line a surface prints next to the runtime notice: how attempts get their package
    (probes overlay mounts once, as the first attempt would)."""
    return package_cache(config).notice()


@dataclass
class PreparedAttempt:
    """What the runtime needs for one attempt, and what `finish` needs afterwards."""

    workdir: Path
    #: What the program sees: the package view (`workdir`) first, then the mappings,
    #: mounts and data disk.
    needs: tuple[Need, ...]
    stdout_path: Path
    stderr_path: Path
    stdout_object: str
    stderr_object: str
    attempt_dir: Path = field(repr=False, default=Path())
    outputs: tuple[tuple[Path, Location], ...] = field(repr=False, default=())
    package: CachedPackage | None = field(repr=False, default=None)
    #: How the attempt got its package: "overlay", "link", "copy" (None without a package).
    package_copy: Copying | None = None
    #: Keeps the package's cache entry from being pruned while the attempt uses it.
    package_hold: Hold | None = field(repr=False, default=None)
    streamer: LogStreamer | None = field(repr=False, default=None)

    def start_streaming(self) -> None:
        """Push stdout/stderr/LogMapping files while the program runs."""
        if self.streamer is not None:
            self.streamer.start()


@dataclass(frozen=True)
class _StdLogs:
    """An instance's stdout/stderr files and the objects they are redirected to, if any."""

    stdout_path: Path
    stderr_path: Path
    stdout_object: Location | None
    stderr_object: Location | None

    def object_url(self, stream: str) -> str:
        location = self.stdout_object if stream == "stdout" else self.stderr_object
        return location.url if location else ""

    def targets(self) -> list[LogTarget]:
        pairs = ((self.stdout_path, self.stdout_object), (self.stderr_path, self.stderr_object))
        return [LogTarget(path, location) for path, location in pairs if location is not None]


class JobStorage:
    """Storage for one job; safe to call from several threads (one per running instance)."""

    def __init__(
        self,
        config: Config,
        job_id: str,
        job: Job,
        work_root: Path,
        *,
        cadence: Cadence | None = None,
        copy_mode: CopyMode | None = None,
    ) -> None:
        self.config = config
        self.job_id = job_id
        self.job = job
        self.work_root = work_root
        self.cadence = cadence or Cadence()
        self.resolver = OssResolver(config.oss)
        # Uploads of processes killed mid-write (also when no OSS endpoint starts to sweep).
        tempfiles.sweep(config.oss.root / ROOT_TMP_DIR)
        self.packages = package_cache(config, copy_mode)
        self._views = ViewCache(work_root / "inputs")
        self._lock = threading.Lock()
        #: Attempts prepared and not finished yet, so that `close` can stop their streamers.
        self._unfinished: dict[int, PreparedAttempt] = {}

    # -- before the attempt -------------------------------------------------------------
    def prepare(self, task_name: str, instance_id: int, attempt: int) -> PreparedAttempt:
        """Everything one attempt needs before it starts; a StorageError (secrets masked)
        fails the attempt before any program runs, and leaves no attempt directory behind."""
        task = self._task(task_name)
        name = f"{task_name}.{instance_id}"
        attempt_dir = self._attempt_dir(name, attempt)
        if attempt_dir.exists():  # left by an interrupted run of the same attempt
            _discard(attempt_dir)
        try:
            return self._prepare(task, name, instance_id, attempt_dir)
        except StorageError as exc:
            _discard(attempt_dir)
            raise self._scrubbed(exc) from None
        except BaseException:
            _discard(attempt_dir)
            raise

    def _scrubbed(self, exc: StorageError) -> StorageError:
        """The same error with every secret of the job and the config masked."""
        secrets = list(self.resolver.secrets())
        for task in self.job.tasks.values():
            for block in (task.mounts, task.auto_cluster and task.auto_cluster.configs.mounts):
                if block and block.oss:
                    secrets += [block.oss.access_key_secret, block.oss.security_token]
        return StorageError(exc.code, redact_text(exc.message, secrets))

    def _prepare(
        self, task: Task, name: str, instance_id: int, attempt_dir: Path
    ) -> PreparedAttempt:
        workdir = attempt_dir / "workdir"
        needs: list[Need] = []
        for url, destination in task.input_mapping.items():
            target = container_path(destination, INPUT_MAPPING_ERROR, f"InputMapping {url}")
            location = self._folder(url, "InputMapping")
            needs.append(
                self._views.need(
                    NeedKind.INPUT, location, target, Access.READ_ONLY, INPUT_MAPPING_ERROR
                )
            )
        outputs = []
        for index, (local_dir, url) in enumerate(task.output_mapping.items()):
            target = container_path(local_dir, OUTPUT_UPLOAD_FAILED, "OutputMapping key")
            prefix = self._folder(url, "OutputMapping")
            host = attempt_dir / "outputs" / str(index)
            host.mkdir(parents=True)
            needs.append(Need(NeedKind.OUTPUT, host, target, Access.READ_WRITE))
            outputs.append((host, prefix))
        logs = logs_dir(self.work_root)
        logs.mkdir(parents=True, exist_ok=True)
        log_targets, log_needs = self._log_mapping(task, name, instance_id, logs)
        needs += log_needs
        needs += self._mounts(task)
        data_disk = task.auto_cluster.configs.data_disk if task.auto_cluster else None
        if data_disk and data_disk.mount_point:
            target = container_path(data_disk.mount_point, MOUNT_ERROR, "DataDisk MountPoint")
            host = attempt_dir / "datadisk"
            host.mkdir(parents=True)
            needs.append(Need(NeedKind.DATA_DISK, host, target, Access.READ_WRITE))
        _refuse_duplicate_targets(needs)

        std = self._std_logs(task, instance_id, logs)
        streamer = self._streamer(std, log_targets)
        # Last: nothing after it can fail, so its hold on the cache entry is never lost.
        package, package_copy, hold = self._package(task, workdir)
        prepared = PreparedAttempt(
            workdir=workdir,
            needs=(package_view(workdir), *needs),
            stdout_path=std.stdout_path,
            stderr_path=std.stderr_path,
            stdout_object=std.object_url("stdout"),
            stderr_object=std.object_url("stderr"),
            attempt_dir=attempt_dir,
            outputs=tuple(outputs),
            package=package,
            package_copy=package_copy,
            package_hold=hold,
            streamer=streamer,
        )
        with self._lock:
            self._unfinished[id(prepared)] = prepared
        return prepared

    def reopen(
        self, task_name: str, instance_id: int, attempt: int, workdir: Path
    ) -> PreparedAttempt:
        """The `PreparedAttempt` of an attempt an earlier process prepared, for `finish`.

        After a kill -9 the process that adopts a still-running container must finish its
        attempt as the dead process would have: push its logs and upload its OutputMapping
        directories. These host paths derive from (task, instance, attempt) alone (the layout
        above), so they are derived again here. `workdir` is the one the store recorded: the
        derived paths must lead to it (else the state dir moved, or the layout changed), and
        it must still exist. The package cache is not verified afterwards: which copy of the
        package the attempt got is known only to the process that prepared it.

        StorageError when the attempt's storage cannot be rebuilt.
        """
        task = self._task(task_name)
        name = f"{task_name}.{instance_id}"
        attempt_dir = self._attempt_dir(name, attempt)
        if (attempt_dir / "workdir").resolve() != workdir.resolve() or not attempt_dir.is_dir():
            raise StorageError(
                OUTPUT_UPLOAD_FAILED,
                f"the attempt's directory {workdir} is not where this state dir keeps it,"
                " or is gone",
            )
        try:
            outputs = tuple(
                (attempt_dir / "outputs" / str(index), self._folder(url, "OutputMapping"))
                for index, url in enumerate(task.output_mapping.values())
            )
            logs = logs_dir(self.work_root)
            log_targets, _ = self._log_mapping(task, name, instance_id, logs)
            std = self._std_logs(task, instance_id, logs)
        except StorageError as exc:
            raise self._scrubbed(exc) from None
        return PreparedAttempt(
            workdir=workdir,
            needs=(),
            stdout_path=std.stdout_path,
            stderr_path=std.stderr_path,
            stdout_object=std.object_url("stdout"),
            stderr_object=std.object_url("stderr"),
            attempt_dir=attempt_dir,
            outputs=outputs,
            streamer=self._streamer(std, log_targets),
        )

    def _attempt_dir(self, name: str, attempt: int) -> Path:
        return self.work_root / "attempts" / f"{name}.{attempt}"

    def _std_logs(self, task: Task, instance_id: int, logs: Path) -> _StdLogs:
        return _StdLogs(
            stdout_path=logs / log_file_name(task.name, instance_id, "stdout"),
            stderr_path=logs / log_file_name(task.name, instance_id, "stderr"),
            stdout_object=self._redirect(task, instance_id, "stdout"),
            stderr_object=self._redirect(task, instance_id, "stderr"),
        )

    def _streamer(self, std: _StdLogs, mapped: list[LogTarget]) -> LogStreamer:
        """Pushes stdout and stderr (when redirected), then the LogMapping targets."""
        return LogStreamer([*std.targets(), *mapped], self.cadence, self.resolver.secrets())

    def _task(self, task_name: str) -> Task:
        task = self.job.tasks.get(task_name)
        if task is None:
            raise KeyError(f"job {self.job_id} has no task {task_name!r}")
        if "/" in task_name or task_name in ("", ".", ".."):
            raise StorageError(INVALID_OSS_PATH, f"task name {task_name!r} cannot name files")
        return task

    def _package(
        self, task: Task, workdir: Path
    ) -> tuple[CachedPackage | None, Copying | None, Hold | None]:
        url = task.parameters.command.package_path
        if not url:
            workdir.mkdir(parents=True)
            return None, None, None
        location = self.resolver.resolve(url)
        if location.oss.is_folder:
            raise StorageError(PACKAGE_ERROR, f"PackagePath {url} is a folder, not a .tar.gz file")
        package, hold = self.packages.fetch_held(location)
        try:
            return package, self.packages.materialize(package, workdir, mount=True), hold
        except FileNotFoundError:  # evicted while we linked: unpack again, once
            hold.release()
            remove_tree(workdir)
            package, hold = self.packages.fetch_held(location)
        except BaseException:
            hold.release()
            raise
        try:
            return package, self.packages.materialize(package, workdir, mount=True), hold
        except BaseException:
            hold.release()
            raise

    def _folder(self, url: str, what: str) -> Location:
        location = self.resolver.resolve(url)
        if not location.oss.is_folder and what != "InputMapping":
            raise StorageError(INVALID_OSS_PATH, f"{what} {url} must be a folder (end with '/')")
        return location

    def _redirect(self, task: Task, instance_id: int, stream: str) -> Location | None:
        """The object a redirected stdout/stderr goes to; None when the task sets no folder."""
        params = task.parameters
        folder = params.stdout_redirect_path if stream == "stdout" else params.stderr_redirect_path
        if not folder:
            return None
        name = redirect_object_name(stream, self.job_id, task.name, instance_id)
        return self._folder(folder, f"{stream.capitalize()}RedirectPath").child(name)

    def _log_mapping(
        self, task: Task, name: str, instance_id: int, logs: Path
    ) -> tuple[list[LogTarget], list[Need]]:
        targets: list[LogTarget] = []
        needs: list[Need] = []
        suffix = "." + instance_suffix(self.job_id, task.name, instance_id)
        for index, (local, url) in enumerate(task.log_mapping.items()):
            target = container_path(local, LOG_UPLOAD_FAILED, "LogMapping key")
            folder = self._folder(url, "LogMapping")
            host_dir = logs / f"{name}.mapped" / str(index)
            host_dir.mkdir(parents=True, exist_ok=True)
            if local.endswith("/"):
                needs.append(Need(NeedKind.LOG, host_dir, target, Access.READ_WRITE))
                targets.append(LogTarget(host_dir, folder, name_for=lambda rel: rel + suffix))
            else:
                basename = Path(target).name
                host = host_dir / basename
                host.touch()
                needs.append(Need(NeedKind.LOG, host, target, Access.READ_WRITE))
                targets.append(LogTarget(host, folder.child(basename + suffix)))
        return targets, needs

    def _mounts(self, task: Task) -> list[Need]:
        needs: list[Need] = []
        blocks = [task.mounts]
        if task.auto_cluster is not None:
            blocks.append(task.auto_cluster.configs.mounts)
        for block in blocks:
            if block is None or not block.entries:
                continue
            resolver = self.resolver.with_credentials(block.oss)
            needs += mount_needs(block.entries, resolver, self._views, self.config)
        return needs

    # -- after the attempt --------------------------------------------------------------
    def finish(self, prepared: PreparedAttempt, *, keep: bool = False) -> None:
        """Push logs completely, upload outputs, free the attempt's directories."""
        with self._lock:
            self._unfinished.pop(id(prepared), None)
        errors: list[StorageError] = []
        if prepared.streamer is not None:
            try:
                prepared.streamer.stop()
            except StorageError as exc:
                errors.append(exc)
        for directory, prefix in prepared.outputs:
            try:
                upload_directory(
                    directory, prefix, link_ok=not keep, secrets=self.resolver.secrets()
                )
            except StorageError as exc:
                errors.append(exc)
        try:
            self.packages.release(prepared.workdir, keep=keep)
        except OSError as exc:
            log.warning("releasing the work directory %s failed: %s", prepared.workdir, exc)
            keep = True  # never delete through a view that may still be mounted
        if prepared.package is not None and prepared.package_copy == "link":
            self.packages.verify(prepared.package)
        if prepared.package_hold is not None:
            prepared.package_hold.release()
        if not keep:
            remove_tree(prepared.attempt_dir)
        if errors:
            first = next((e for e in errors if e.code == OUTPUT_UPLOAD_FAILED), errors[0])
            raise self._scrubbed(first)

    def close(self) -> None:
        """End the job's storage: push the logs of attempts never finished (best effort) and
        forget the job's downloaded inputs (the package cache is kept for other jobs)."""
        with self._lock:
            leftovers = list(self._unfinished.values())
            self._unfinished.clear()
        for prepared in leftovers:
            if prepared.package_hold is not None:
                prepared.package_hold.release()
            if prepared.streamer is not None:
                try:
                    prepared.streamer.stop()
                except StorageError as exc:
                    log.warning("%s", self._scrubbed(exc))
        remove_tree(self.work_root / "inputs")


def _refuse_duplicate_targets(needs: list[Need]) -> None:
    seen: dict[str, Need] = {}
    for need in needs:
        if need.target in seen:
            raise StorageError(
                INPUT_MAPPING_ERROR,
                f"{need.target} is used twice (e.g. as both an input and an output); "
                "each local path may appear in one mapping or mount only",
            )
        seen[need.target] = need


def _discard(attempt_dir: Path) -> None:
    """Remove an attempt's directory, unmounting its overlay work directory first."""
    workdir = attempt_dir / "workdir"
    if os.path.ismount(workdir):
        overlay.unmount(workdir)
    remove_tree(attempt_dir)


def remove_tree(path: Path) -> None:
    """Remove a directory tree, including what a program made read-only inside it."""

    def make_writable_and_retry(function: object, failed: str, _exc: object) -> None:
        with contextlib.suppress(OSError):
            parent = os.path.dirname(failed)
            os.chmod(parent, os.stat(parent).st_mode | stat.S_IWUSR | stat.S_IXUSR)
            if os.path.isdir(failed) and not os.path.islink(failed):
                os.chmod(failed, os.stat(failed).st_mode | stat.S_IWUSR | stat.S_IXUSR)
                shutil.rmtree(failed, ignore_errors=True)
            else:
                os.unlink(failed)

    if path.exists():
        shutil.rmtree(path, onerror=make_writable_and_retry)
    if path.exists():
        log.warning("could not remove %s completely", path)
