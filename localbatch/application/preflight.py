"""The checks before a run: what would make every attempt of a task fail, found at once,
before anything starts, so `localbatch run` can list every problem and start nothing.

Looked at, per task that would run: CommandLine splits into words and names a program the
attempt would see (in the image or on this host, on PATH, or in the package: where that
can be known), PackagePath names an existing object, every InputMapping source and
read-only OSS Mounts source exists (unless a task of the run may write it first: an
OutputMapping or writable OSS mount that covers it; a writable mount may start empty),
Mounts sources have a
supported scheme, and the image is present in the runtime (unless `--pull`). Each problem
names its task and the field it comes from.

Nothing is created, downloaded or started (the Docker runtime creates one container per
image to look for programs, and removes it). `serve` does none of this: the service
accepts such a job and its attempts fail with their error codes, as `run --no-preflight`
shows.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from localbatch.config import Config
from localbatch.engine.environment import CONTAINER_ENV, split_command_line
from localbatch.plan.node_choice import REGISTRY_OSS_VAR, choose_node
from localbatch.runtime.base import (
    WORKDIR,
    ChecksImages,
    FindsPrograms,
    Runtime,
    uses_images,
)
from localbatch.spec.model import Job, MountEntry, Task
from localbatch.storage.errors import StorageError
from localbatch.storage.probe import PackageListing, list_package, missing
from localbatch.storage.resolver import OssResolver


@dataclass(frozen=True)
class Problem:
    """One thing that would make every attempt of a task fail, and the field it is in."""

    task: str
    field: str
    message: str

    def describe(self) -> str:
        return f"task {self.task}: {self.field}: {self.message}"


def preflight(
    job: Job, config: Config, runtime: Runtime | None, only: Collection[str] = ()
) -> list[Problem]:
    """Every problem of the tasks that would run (all, or those in `only`), in job order;
    without a runtime, images and programs are not looked at."""
    selected = {name: task for name, task in job.tasks.items() if not only or name in only}
    checks = _Checks(config, runtime, _written_by(selected.values()))
    problems: list[Problem] = []
    for name, task in selected.items():
        problems += checks.task(name, task)
    return problems


def _written_by(tasks: Iterable[Task]) -> tuple[str, ...]:
    """The OSS folders the run's tasks write (OutputMapping, writable OSS mounts): what is
    read from them may not exist yet."""
    outputs = [url for task in tasks for url in task.output_mapping.values()]
    mounts = [
        entry.source
        for task in tasks
        for entry in task.all_mounts
        if entry.write_support and entry.source.startswith("oss://")
    ]
    return (*outputs, *mounts)


def _covered(url: str, written: tuple[str, ...]) -> bool:
    """Whether `url` lies in (or holds) a folder a task of the run writes."""
    return any(url.startswith(folder) or folder.startswith(url) for folder in written)


@dataclass
class _Checks:
    config: Config
    runtime: Runtime | None
    written: tuple[str, ...]
    _images: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _listings: dict[str, PackageListing | None] = field(default_factory=dict)
    _programs: dict[tuple[tuple[str, str] | None, tuple[str, ...]], frozenset[str] | None] = field(
        default_factory=dict
    )

    def task(self, name: str, task: Task) -> list[Problem]:
        problems = []
        resolver = OssResolver(self.config.oss)

        def problem(where: str, message: str | None) -> None:
            if message:
                problems.append(Problem(name, where, message))

        package = task.parameters.command.package_path
        if package and not _covered(package, self.written):
            problem("Parameters.Command.PackagePath", self._object(resolver, package))
        for url in task.input_mapping:
            if not _covered(url, self.written):
                problem(f"InputMapping {url}", self._folder(resolver, url))
        for where, entry in _mounts(task):
            problem(where, self._mount(resolver, task, entry))
        node = choose_node(task, self.config)
        env = _environment(task)
        image_problem = self._image(node.docker_image, env)
        problem(node.image_source, image_problem)
        program = self._program(resolver, task, node.docker_image, env, image_problem)
        problem("Parameters.Command.CommandLine", program)
        return problems

    # -- OSS ----------------------------------------------------------------------------------
    @staticmethod
    def _object(resolver: OssResolver, url: str) -> str | None:
        try:
            location = resolver.resolve(url)
        except StorageError as exc:
            return exc.message
        if location.oss.is_folder:
            return f"{url} is a folder, not a .tar.gz file"
        return missing(location, folder=False)

    @staticmethod
    def _folder(resolver: OssResolver, url: str) -> str | None:
        try:
            return missing(resolver.resolve(url), folder=True)
        except StorageError as exc:
            return exc.message

    def _mount(self, resolver: OssResolver, task: Task, entry: MountEntry) -> str | None:
        if entry.source.startswith("nas://"):
            return None  # a local directory stands for it, made when first used
        if not entry.source.startswith("oss://"):
            return f"{entry.source!r} is not supported: use oss://... or nas://..."
        if entry.write_support or _covered(entry.source, self.written):
            return None  # a place the run writes: it may well start empty
        credentials = next(
            (
                m.oss
                for m in (task.mounts, task.auto_cluster and task.auto_cluster.configs.mounts)
                if m and m.oss
            ),
            None,
        )
        try:
            location = resolver.with_credentials(credentials).resolve(entry.source)
        except StorageError as exc:
            return exc.message
        if location.local is None and entry.write_support:
            return (
                f"WriteSupport cannot be honoured for {entry.source}: its bucket is not a local "
                "directory (only the OSS root and file:// aliases can be mounted writable)"
            )
        return missing(location, folder=location.oss.is_folder)

    # -- the runtime ----------------------------------------------------------------------------
    def _image(self, image: str, env: Mapping[str, str]) -> str | None:
        if self.runtime is None or not uses_images(self.runtime):
            return None
        if not isinstance(self.runtime, ChecksImages):
            return None
        key = (image, env.get(REGISTRY_OSS_VAR, ""))
        if key not in self._images:
            self._images[key] = self.runtime.image_problem(image, env)
        return self._images[key]

    def _program(
        self,
        resolver: OssResolver,
        task: Task,
        image: str,
        env: Mapping[str, str],
        image_problem: str | None,
    ) -> str | None:
        """Why CommandLine cannot run: it does not split, or its program is nowhere the
        attempt would look (None also when that cannot be known)."""
        argv, error = split_command_line(task.parameters.command.command_line)
        if error:
            return error
        path_var = env.get("PATH", "")
        candidates = program_candidates(argv[0], path_var)
        binds = _bind_targets(task)
        package: list[str] = []
        system: list[str] = []
        for candidate in candidates:
            if _inside(candidate, WORKDIR):
                package.append(posixpath.relpath(candidate, WORKDIR))
            elif any(_inside(candidate, target) for target in binds):
                return None  # a mapping or mount: its files are not known before the run
            else:
                system.append(candidate)
        listing = self._package_listing(resolver, task)
        for relative in package:
            if listing is None:
                return None
            has = listing.has_program(relative)
            if has is None or has:
                return None
            if relative in listing.files:
                return (
                    f"{argv[0]!r} is in the package but not executable (give it the x bit "
                    "before packing, or run it through its interpreter)"
                )
        if system:
            found = self._system_programs(image, env, tuple(system), image_problem)
            if found is None or found:
                return None
        where = self._where(image)
        looked = "in the package" if "/" in argv[0] else f"on PATH {path_var}"
        return f"{argv[0]!r} is not a program {where}: looked {looked}"

    def _package_listing(self, resolver: OssResolver, task: Task) -> PackageListing | None:
        url = task.parameters.command.package_path
        if not url:
            return PackageListing(frozenset(), frozenset(), frozenset(), frozenset())
        if url not in self._listings:
            try:
                location = resolver.resolve(url)
            except StorageError:
                location = None
            self._listings[url] = list_package(location) if location is not None else None
        return self._listings[url]

    def _system_programs(
        self, image: str, env: Mapping[str, str], paths: tuple[str, ...], image_problem: str | None
    ) -> frozenset[str] | None:
        if image_problem or not isinstance(self.runtime, FindsPrograms):
            return None  # (a runtime that finds programs is never None)
        image_key = (image, env.get(REGISTRY_OSS_VAR, "")) if uses_images(self.runtime) else None
        key = (image_key, paths)
        if key not in self._programs:
            self._programs[key] = self.runtime.executables(image, paths, env)
        return self._programs[key]

    def _where(self, image: str) -> str:
        assert self.runtime is not None  # only a runtime finds programs
        if uses_images(self.runtime):
            return f"in the image {image} nor in the package"
        return (
            f"the {self.runtime.name} runtime shows (this host's system files) nor in the package"
        )


def _environment(task: Task) -> dict[str, str]:
    """What of an attempt's environment the checks need: the service's base variables and
    the task's EnvVars (its PATH, a registry's OSS path)."""
    return {**CONTAINER_ENV, **{k: str(v) for k, v in task.parameters.command.env_vars.items()}}


def program_candidates(program: str, path_var: str) -> list[str]:
    """Where an attempt would look for `program`, as execvp does: the path itself when it
    has a '/' (relative to the work directory), else each PATH directory in turn."""
    if "/" in program:
        return [posixpath.normpath(posixpath.join(WORKDIR, program))]
    directories = [d or "." for d in path_var.split(":")] if path_var else []
    return [posixpath.normpath(posixpath.join(WORKDIR, d, program)) for d in directories]


def _inside(path: str, directory: str) -> bool:
    directory = directory.rstrip("/") or "/"
    return path == directory or path.startswith(directory + "/")


def _bind_targets(task: Task) -> list[str]:
    """Where a task's mappings, mounts and data disk appear inside an attempt."""
    targets = [*task.input_mapping.values(), *task.output_mapping, *task.log_mapping]
    targets += [m.destination for m in task.all_mounts]
    disk = task.auto_cluster.configs.data_disk if task.auto_cluster else None
    if disk and disk.mount_point:
        targets.append(disk.mount_point)
    return [posixpath.normpath(t) for t in targets if t.startswith("/")]


def _mounts(task: Task) -> list[tuple[str, MountEntry]]:
    """Each Mounts entry with the field it comes from."""
    entries = [
        (f"Mounts.Entries[{i}].Source", e)
        for i, e in enumerate(task.mounts.entries if task.mounts else ())
    ]
    configs = task.auto_cluster.configs.mounts if task.auto_cluster else None
    entries += [
        (f"AutoCluster.Configs.Mounts.Entries[{i}].Source", e)
        for i, e in enumerate(configs.entries if configs else ())
    ]
    return entries
