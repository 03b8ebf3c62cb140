"""The process runtime: each attempt in a bubblewrap sandbox, no daemon needed.

Each attempt gets its own mount and pid namespace: the host's /usr, /etc and the /bin,
/sbin, /lib* links read-only, a fresh /proc, /dev, /tmp and /root, the work directory at
/batchcompute/workdir and the attempt's binds at their targets. The host's files are never
touched and nothing is left mounted. The network is the host's, so programs reach the local
OSS endpoint on 127.0.0.1.

Given an image supply (`images`), the sandbox's `/` is instead the attempt's image: its
cached root file system with a private writable layer (`runtime.rootfs`), and the image's
own environment under the attempt's. Without one (`[sandbox] files = "host"`, asked for
explicitly) programs see the host's system files and images are not used.

bwrap holds the program (through `--block-fd`) until it is inside its limits: memory from
`sandbox_memory` (a cgroup when the host allows one, else RLIMIT_AS), CPU from
`sandbox_cpu` (a CFS quota in a cgroup where the host allows one, else pinned to as many
cores as the instance type has). What it uses is read from those cgroups (`usage_probe`),
or from its process tree with psutil where it has none.
`--die-with-parent` ties the sandbox to the thread that started it: the engine starts and
waits for an attempt from the same worker thread, which outlives the attempt; `start`
answers once the tie holds (`sandbox_lifetime`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import psutil

from localbatch.beneath import Escape, Root
from localbatch.runtime.base import (
    COMMAND_NOT_FOUND,
    OUT_OF_MEMORY,
    START_FAILED,
    WORKDIR,
    AttemptHandle,
    AttemptOutcome,
    AttemptSpec,
    Bind,
    RuntimeUnavailable,
)
from localbatch.runtime.bind_sources import (
    bwrap_binds_fds,
    escape_outcome,
    opened_sources,
    placed_binds,
)
from localbatch.runtime.cgroups import CPU, CPUACCT, MEMORY, CgroupDirs
from localbatch.runtime.image_supply import (
    ChecksRootfs,
    ImageProblem,
    PreparationListener,
    RootfsSupply,
    TellsPreparation,
)
from localbatch.runtime.rootfs import AttemptRoot, AttemptRoots
from localbatch.runtime.sandbox_cpu import (
    CgroupCpu,
    CoreAllocator,
    CpuScope,
    detect_cpu_quota,
    v2_cpu_delegated,
    write_v2_quota,
)
from localbatch.runtime.sandbox_lifetime import wait_until_tied
from localbatch.runtime.sandbox_memory import (
    CgroupMemory,
    MemoryLimiter,
    MemoryScope,
    detect_memory_limiter,
)
from localbatch.runtime.usage import CgroupProbe, ProcessTreeProbe, UsageProbe

INSTALL_HINT = (
    "the process runtime needs bubblewrap (bwrap), which is not installed: "
    "install it with `apt-get install bubblewrap` (Debian/Ubuntu) or `dnf install bubblewrap`, "
    "or start a Docker engine and use `--runtime docker`"
)
#: Host directories shown read-only inside every sandbox (symlinks are recreated as links).
SYSTEM_DIRS = ("/usr", "/etc")
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: Fresh, private, writable directories of every sandbox.
PRIVATE_TMPFS = ("/tmp", "/root")
_CHILD_PID = re.compile(rb'"child-pid":\s*(\d+)')


@functools.cache
def system_args() -> tuple[str, ...]:
    """The bwrap arguments that show the host's system files read-only (computed once)."""
    args: list[str] = []
    for directory in SYSTEM_DIRS:
        if Path(directory).is_dir():
            args += ["--ro-bind", directory, directory]
    for name in SYSTEM_LINKS:
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for directory in PRIVATE_TMPFS:
        args += ["--tmpfs", directory]
    return tuple(args)


def _bind_args(bind: Bind, fd: int | None) -> list[str]:
    if fd is None:
        return ["--ro-bind" if bind.read_only else "--bind", str(bind.source), bind.target]
    return ["--ro-bind-fd" if bind.read_only else "--bind-fd", str(fd), bind.target]


def sandbox_args(
    spec: AttemptSpec, root_args: Sequence[str] | None = None, fds: Sequence[int] = ()
) -> list[str]:
    """Everything between `bwrap` and `--`: namespaces, file system view, environment.
    `root_args` build `/` from an image; by default it shows the host's system files.
    `fds` are the sources of `placed_binds(spec)`, open (else they are given by path)."""
    root = system_args() if root_args is None else root_args
    args = ["--die-with-parent", "--unshare-pid", "--new-session", *root]
    binds = placed_binds(spec)
    sources: Sequence[int | None] = fds or [None] * len(binds)
    for bind, fd in zip(binds, sources, strict=True):
        args += _bind_args(bind, fd)
    args += ["--chdir", WORKDIR]
    args.append("--clearenv")
    for key, value in spec.env.items():
        args += ["--setenv", key, value]
    return args


@dataclass(eq=False)
class ProcessHandle:
    """One running sandbox; `ref` is bwrap's pid."""

    ref: str
    popen: subprocess.Popen[bytes]
    spec: AttemptSpec
    #: The sandbox's init (pid 1 inside), as the host sees it; None if bwrap never got there.
    child_pid: int | None
    scope: MemoryScope | None
    stderr_offset: int
    #: The host CPUs it is pinned to; None when it may use all of them.
    cores: frozenset[int] | None = None
    #: Its CPU quota's cgroups (cgroup v1); None without a v1 quota.
    cpu_scope: CpuScope | None = None
    pidfd: int | None = None
    #: The attempt's image root (None: the host's files), released with the attempt.
    root: AttemptRoot | None = None
    outcome: AttemptOutcome | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _read_child_pid(fd: int) -> int | None:
    data = b""
    with os.fdopen(fd, "rb", buffering=0) as info:
        while not _CHILD_PID.search(data) or b"}" not in data:
            chunk = info.read(4096)
            if not chunk:
                break
            data += chunk
    found = _CHILD_PID.search(data)
    return int(found.group(1)) if found else None


def _append_offset(stream: BinaryIO) -> int:
    """Where the attempt's stderr starts in its file; -1 when it is no file (/dev/null)."""
    status = os.fstat(stream.fileno())
    return status.st_size if stat.S_ISREG(status.st_mode) else -1


class ProcessRuntime:
    """Runs each attempt as a sandboxed process of this one."""

    name = "process"
    #: Runs programs in their image; an instance made without images does not (host files).
    uses_images: bool = True

    def __init__(
        self,
        bwrap: str | None = None,
        memory: MemoryLimiter | None = None,
        cpus: CoreAllocator | None = None,
        images: RootfsSupply | None = None,
        layers_dir: Path | None = None,
    ) -> None:
        self.bwrap = bwrap or shutil.which("bwrap")
        self.memory = memory
        self.cpus = cpus or CoreAllocator()
        #: Where images come from; None shows programs the host's files instead.
        self.images = images
        #: Attempts' private layers go to `layers_dir` (in memory: `rootfs.memory_directory`),
        #: else to the image supply's directory on disk.
        self.roots = AttemptRoots(layers_dir or images.attempts_dir) if images is not None else None
        self.uses_images = images is not None
        #: The v1 CPU quota, detected on first use; False once found unavailable.
        self.cpu_quota: CgroupCpu | bool | None = None

    def check(self) -> None:
        """Raise RuntimeUnavailable unless bwrap exists and can create a sandbox here."""
        if self.bwrap is None:
            raise RuntimeUnavailable(INSTALL_HINT)
        probe = [self.bwrap, "--die-with-parent", "--unshare-pid", *system_args(), "--", "true"]
        try:
            result = subprocess.run(probe, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeUnavailable(f"bubblewrap at {self.bwrap} does not run: {exc}") from exc
        if result.returncode != 0:
            raise RuntimeUnavailable(
                f"bubblewrap cannot create a sandbox here: {result.stderr.strip()}; "
                "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) "
                "or run as root"
            )
        self._limiter().remove_stale()
        quota = self._quota()
        if quota is not None:
            quota.remove_stale()
        if self.roots is not None:
            self.roots.clean_stale()

    def version(self) -> str:
        """bwrap's own version line ("bubblewrap 0.8.0"), for the runtime notice."""
        assert self.bwrap is not None
        result = subprocess.run([self.bwrap, "--version"], capture_output=True, text=True)
        return result.stdout.strip() or "bubblewrap"

    def describe(self) -> str:
        """How this host confines attempts: what a user needs to trust the limits."""
        limiter = self.memory.description if self.memory else "not detected yet"
        files = (
            f"programs see their image: {self.roots.describe()}"
            if self.roots is not None
            else 'programs see this host\'s files, not their image ([sandbox] files = "host")'
        )
        return f"{self.version()}; memory limits via {limiter}; CPU via {self._cpu_way()}; {files}"

    def _cpu_way(self) -> str:
        if self._v2_quota():
            return "cgroup v2 CPU quota"
        quota = self._quota()
        return quota.description if quota is not None else self.cpus.description

    def tell_preparation(self, listener: PreparationListener) -> None:
        """Tell `listener` as an image is unpacked for the sandbox on first use (its
        supply does it; without images nothing is prepared)."""
        if isinstance(self.images, TellsPreparation):
            self.images.tell_preparation(listener)

    def image_problem(self, image: str, env: Mapping[str, str]) -> str | None:
        """Why the image of an attempt could not be had (None with the host's files, or when
        the supply cannot tell before bringing it)."""
        if isinstance(self.images, ChecksRootfs):
            return self.images.image_problem(image, env)
        return None

    def executables(
        self, image: str, paths: Sequence[str], env: Mapping[str, str]
    ) -> frozenset[str] | None:
        """Which of `paths` are executable files a sandbox shows: in its image when it is
        prepared already (else None), or this host's system directories (/tmp and /root
        are empty). None for /proc and /dev, not known before the sandbox exists, and for
        an image with an ENTRYPOINT."""
        if any(("/" + path.strip("/")).split("/")[1] in ("proc", "dev") for path in paths):
            return None
        if self.images is None:
            return _host_executables(paths)
        if not isinstance(self.images, ChecksRootfs):
            return None
        root = self.images.ready_root(image, env)
        if root is None or root.entrypoint:
            return None
        return _image_executables(root.rootfs, paths)

    # -- one attempt ------------------------------------------------------------------------

    def _limiter(self) -> MemoryLimiter:
        """The memory limiter, detected on first use (check() may not have run)."""
        if self.memory is None:
            self.memory = detect_memory_limiter()
        return self.memory

    def _quota(self) -> CgroupCpu | None:
        """The v1 CPU quota, detected on first use (None where the host has none)."""
        if self.cpu_quota is None:
            try:
                mount_text = Path("/proc/self/mounts").read_text()
                own = Path("/proc/self/cgroup").read_text()
            except OSError:
                mount_text = own = ""
            self.cpu_quota = detect_cpu_quota(mount_text, own) or False
        return self.cpu_quota if isinstance(self.cpu_quota, CgroupCpu) else None

    def _v2_quota(self) -> bool:
        """Whether quotas go into the attempt's cgroup v2 memory directory."""
        limiter = self._limiter()
        return (
            isinstance(limiter, CgroupMemory)
            and limiter.files.version == 2
            and v2_cpu_delegated(limiter.base)
        )

    def _quota_applies(self, spec: AttemptSpec) -> bool:
        """A CPU quota replaces pinning when the host has one (and a limit is asked)."""
        if spec.cpu_cores <= 0:
            return False
        return self._quota() is not None or (bool(spec.memory_bytes) and self._v2_quota())

    def start(self, spec: AttemptSpec) -> ProcessHandle | AttemptOutcome:
        """Start bwrap, put the held sandbox into its limits, then let the program run."""
        if self.bwrap is None:
            raise RuntimeUnavailable(INSTALL_HINT)
        missing = [str(b.source) for b in spec.binds if not b.source.exists()]
        if not spec.workdir.is_dir():
            missing.insert(0, str(spec.workdir))
        if missing:
            return AttemptOutcome(None, START_FAILED, f"Host paths to bind are missing: {missing}")
        root = self._open_root(spec)
        if isinstance(root, AttemptOutcome):
            return root
        if root is not None:  # the image's variables under the attempt's, and its
            image = root.image  # entrypoint before the argv, as in Docker
            spec = replace(spec, env={**image.env, **spec.env}, argv=image.entrypoint + spec.argv)
        quota = self._quota_applies(spec)
        cores = None if quota else self.cpus.take(spec.cpu_cores)
        hold = bool(spec.memory_bytes) or cores is not None or quota
        launched = self._launch(self.bwrap, spec, hold, root)
        if isinstance(launched, AttemptOutcome):
            self.cpus.give_back(cores)
            if root is not None:
                root.release(keep=False)
            return launched
        popen, child_pid, release_fd, stderr_offset = launched
        scope: MemoryScope | None = None
        cpu_scope: CpuScope | None = None
        if release_fd >= 0:
            try:
                if child_pid is not None:  # None: bwrap failed before making the sandbox
                    scope, cpu_scope = self._confine(spec, child_pid, cores, quota)
            except ProcessLookupError:
                pass  # the sandbox is gone before its program ran: bwrap's exit says why
            except OSError as exc:
                popen.kill()
                popen.wait()
                os.close(release_fd)
                self.cpus.give_back(cores)
                if root is not None:
                    root.release(keep=False)
                return AttemptOutcome(None, START_FAILED, f"Could not apply the limits: {exc}")
            # The sandbox may already have failed to build; its exit status tells, not this.
            with contextlib.suppress(BrokenPipeError):
                os.write(release_fd, b"go")
            os.close(release_fd)
        if child_pid is not None:
            wait_until_tied(child_pid)  # else a runner killed now would leave it running
        handle = ProcessHandle(
            str(popen.pid),
            popen,
            spec,
            child_pid,
            scope,
            stderr_offset,
            cores=cores,
            cpu_scope=cpu_scope,
            root=root,
        )
        with contextlib.suppress(OSError, AttributeError):
            handle.pidfd = os.pidfd_open(popen.pid)
        return handle

    def _open_root(self, spec: AttemptSpec) -> AttemptRoot | AttemptOutcome | None:
        """The attempt's image root (None without images), or why it cannot have one: the
        image cannot be had (ImageNotFound, naming where it was looked for), or its private
        layer cannot be mounted."""
        if self.images is None or self.roots is None:
            return None
        try:
            image = self.images.root_for(spec.image, spec.env)
        except ImageProblem as exc:
            return AttemptOutcome(None, exc.code, exc.message)
        try:
            return self.roots.open(image)
        except OSError as exc:
            return AttemptOutcome(
                None, START_FAILED, f"Could not make the attempt's layer over {spec.image}: {exc}"
            )

    @staticmethod
    def _launch(
        bwrap: str, spec: AttemptSpec, hold: bool, root: AttemptRoot | None = None
    ) -> tuple[subprocess.Popen[bytes], int | None, int, int] | AttemptOutcome:
        """Start bwrap; answer it, its sandbox's pid, the fd that releases a held sandbox
        (-1 when not held) and where this attempt's stderr starts in its file."""
        info_read, info_write = os.pipe()
        block_read, release_fd = os.pipe() if hold else (-1, -1)
        command = [bwrap, "--info-fd", str(info_write)]
        if hold:
            command += ["--block-fd", str(block_read)]
        root_args = root.bwrap_args() if root is not None else None
        passed = tuple(fd for fd in (info_write, block_read) if fd >= 0)
        try:
            with (
                opened_sources(placed_binds(spec) if bwrap_binds_fds(bwrap) else ()) as fds,
                spec.stdout_path.open("ab") as out,
                spec.stderr_path.open("ab") as err,
            ):
                command += [*sandbox_args(spec, root_args, fds), "--", *spec.argv]
                stderr_offset = _append_offset(err)
                popen = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    pass_fds=(*passed, *fds),
                    start_new_session=True,
                )
        except (OSError, subprocess.SubprocessError) as exc:
            for fd in (info_read, release_fd):
                if fd >= 0:
                    os.close(fd)
            if isinstance(exc, Escape):
                return escape_outcome(exc)
            return AttemptOutcome(None, START_FAILED, f"Could not start the sandbox: {exc}")
        finally:
            for fd in passed:
                os.close(fd)
        return popen, _read_child_pid(info_read), release_fd, stderr_offset

    def _confine(
        self, spec: AttemptSpec, child_pid: int, cores: frozenset[int] | None, quota: bool
    ) -> tuple[MemoryScope | None, CpuScope | None]:
        """Apply the memory limit and the CPU quota or pinning to the held sandbox (before
        it runs); a limit that cannot be applied undoes the others (OSError)."""
        if cores is not None:
            self.cpus.pin(child_pid, cores)
        scope = self._memory_scope(spec, child_pid)
        cpu_scope = None
        try:
            v1_quota = self._quota()
            if quota and v1_quota is not None:
                cpu_scope = v1_quota.create(spec.cpu_cores)
                v1_quota.enter(cpu_scope, child_pid)
            elif quota and scope is not None and scope.cgroup is not None:
                write_v2_quota(scope.cgroup, spec.cpu_cores)
        except OSError:
            if cpu_scope is not None and v1_quota is not None:
                v1_quota.remove(cpu_scope)
            if scope is not None:
                self._limiter().remove(scope)
            raise
        return scope, cpu_scope

    def _memory_scope(self, spec: AttemptSpec, child_pid: int) -> MemoryScope | None:
        if not spec.memory_bytes:
            return None
        limiter = self._limiter()
        scope = limiter.create(spec.memory_bytes)
        try:
            limiter.enter(scope, child_pid)
        except OSError:
            limiter.remove(scope)
            raise
        return scope

    def usage_probe(self, handle: object, memory_limit: int, cpu_cores: float) -> UsageProbe:
        """The sandbox's own cgroups, which stay until `release` (so the end is read
        exactly); its process tree with psutil where it has none."""
        assert isinstance(handle, ProcessHandle)
        root = handle.child_pid or handle.popen.pid
        pinned = "CPU limited by pinning to whole cores, which counts no throttling"
        memory = handle.scope.cgroup if handle.scope is not None else None
        if memory is None:
            return ProcessTreeProbe(root, memory_limit, cpu_cores, pinned)
        limiter = self._limiter()
        assert isinstance(limiter, CgroupMemory)
        version = limiter.files.version
        dirs = {MEMORY: memory}
        if version == 2:
            dirs.update({CPU: memory, CPUACCT: memory})
        elif handle.cpu_scope is not None:
            dirs.update(handle.cpu_scope.dirs)
        probe = CgroupProbe(CgroupDirs(version, dirs), memory_limit, cpu_cores, True)
        if CPUACCT not in dirs:
            probe.tree = ProcessTreeProbe(root, memory_limit, cpu_cores)
            probe.note = f"CPU time measured over the process tree with psutil; {pinned}"
        return probe

    def _ended(self, handle: ProcessHandle, timeout: float | None) -> bool:
        """Whether bwrap has exited, waiting up to `timeout` seconds without polling loops."""
        if handle.popen.returncode is not None:
            return True
        if handle.pidfd is not None:
            poller = select.poll()
            poller.register(handle.pidfd, select.POLLIN)
            if not poller.poll(None if timeout is None else max(0, int(timeout * 1000))):
                return False
            handle.popen.wait()
            return True
        try:
            handle.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def wait(self, handle: AttemptHandle, timeout: float | None) -> AttemptOutcome | None:
        """The outcome once bwrap exited, classified once under the lock, whoever asks first."""
        assert isinstance(handle, ProcessHandle)
        if not self._ended(handle, timeout):
            return None
        with handle.lock:
            if handle.outcome is None:
                handle.outcome = self._classify(handle)
        return handle.outcome

    def _classify(self, handle: ProcessHandle) -> AttemptOutcome:
        """Tell the program's exit from the sandbox's: out of memory, not executable, or
        bwrap failing to build the sandbox (its own message on stderr)."""
        status = handle.popen.returncode
        exit_code = status if status >= 0 else 128 - status
        if handle.scope is not None and self._limiter().oom_killed(handle.scope):
            return AttemptOutcome(
                exit_code,
                OUT_OF_MEMORY,
                f"The program used more than its memory limit of "
                f"{handle.spec.memory_bytes // 2**20} MiB and was killed.",
            )
        if exit_code == 1 and handle.stderr_offset >= 0:
            first = _first_line_from(handle.spec.stderr_path, handle.stderr_offset)
            if first.startswith("bwrap: execvp "):
                return AttemptOutcome(
                    127,
                    COMMAND_NOT_FOUND,
                    f"{handle.spec.argv[0]!r} could not be executed in the sandbox: "
                    f"{first.removeprefix('bwrap: ')}",
                )
            if first.startswith("bwrap: "):
                return AttemptOutcome(None, START_FAILED, f"The sandbox could not start: {first}")
        return AttemptOutcome(exit_code)

    def terminate(self, handle: AttemptHandle) -> None:
        """SIGTERM to the program and its children (the sandbox's init ignores it)."""
        assert isinstance(handle, ProcessHandle)
        for process in _sandboxed(handle):
            with contextlib.suppress(psutil.Error):
                process.send_signal(signal.SIGTERM)

    def stop(self, handle: AttemptHandle, grace: float) -> None:
        """SIGTERM to the program and its children, SIGKILL to the sandbox after `grace`."""
        assert isinstance(handle, ProcessHandle)
        if self._ended(handle, 0):
            return
        self.terminate(handle)
        if self._ended(handle, grace):
            return
        for pid in (handle.child_pid, handle.popen.pid):
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._ended(handle, None)

    def release(self, handle: AttemptHandle, keep: bool) -> None:
        """Make sure nothing runs any more, free the memory cgroup and the image root.

        `keep` keeps what the program changed in its image (the overlay's upper layer); the
        work directory belongs to the engine."""
        assert isinstance(handle, ProcessHandle)
        if not self._ended(handle, 0):
            self.stop(handle, 0)
        if handle.pidfd is not None:
            os.close(handle.pidfd)
            handle.pidfd = None
        if handle.scope is not None:
            self._limiter().remove(handle.scope)
            handle.scope = None
        quota = self._quota()
        if handle.cpu_scope is not None and quota is not None:
            quota.remove(handle.cpu_scope)
            handle.cpu_scope = None
        self.cpus.give_back(handle.cores)
        handle.cores = None
        if handle.root is not None:
            handle.root.release(keep)
            handle.root = None


def _host_executables(paths: Sequence[str]) -> frozenset[str]:
    """The paths that are executable files among the host's directories a sandbox shows."""
    visible = (*SYSTEM_DIRS, *(name for name in SYSTEM_LINKS if Path(name).exists()))
    found = set()
    for path in paths:
        real = os.path.realpath(path)
        shown = any(real == d or real.startswith(d + "/") for d in _real_dirs(visible))
        if shown and os.path.isfile(real) and os.access(real, os.X_OK):
            found.add(path)
    return frozenset(found)


def _image_executables(rootfs: Path, paths: Sequence[str]) -> frozenset[str] | None:
    """The paths that are executable files in a prepared image, links followed inside it;
    None when a link leads out of it (an absolute one: resolved only in the sandbox)."""
    root = Root(rootfs)
    found = set()
    for path in paths:
        try:
            mode = root.stat(path.lstrip("/")).st_mode
        except Escape:
            return None
        except OSError:
            continue
        if stat.S_ISREG(mode) and mode & 0o111:
            found.add(path)
    return frozenset(found)


def _real_dirs(names: Sequence[str]) -> list[str]:
    """The host directories behind the names a sandbox shows (/bin may be a link to
    usr/bin)."""
    return [os.path.realpath(name) for name in names]


def _sandboxed(handle: ProcessHandle) -> list[psutil.Process]:
    """The program and its children (below the sandbox's init, which ignores SIGTERM)."""
    if handle.child_pid is None:
        return [psutil.Process(handle.popen.pid)] if psutil.pid_exists(handle.popen.pid) else []
    try:
        return list(psutil.Process(handle.child_pid).children(recursive=True))
    except psutil.Error:
        return []


def _first_line_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as stream:
            stream.seek(offset)
            return stream.readline(4096).decode("utf-8", "replace").strip()
    except OSError:
        return ""
