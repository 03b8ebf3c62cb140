"""Small tmpfs mounts and read-only binds, for tests of full and read-only directories.

Mounting needs root (CI runs as root); elsewhere the tests that need it are skipped with
the reason. Every mount is undone at teardown, also when the test fails.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OSError(done.stderr.strip() or f"mount {' '.join(args)} failed")


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@pytest.fixture
def small_disk() -> Iterator[Callable[[Path, str], Path]]:
    """`small_disk(dir, "2m")`: a fresh tmpfs of that size at `dir` (created)."""
    mounted: list[Path] = []

    def mount(path: Path, size: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs needs root (CI runs the tests as root)")
        path.mkdir(parents=True, exist_ok=True)
        try:
            _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
        except OSError as exc:
            pytest.skip(f"cannot mount a tmpfs here: {exc}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        _umount(path)


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], Path]]:
    """`read_only(dir)`: `dir` bound over itself read-only (its content stays readable)."""
    mounted: list[Path] = []

    def bind(path: Path) -> Path:
        if os.geteuid() != 0:
            pytest.skip("a read-only bind mount needs root (CI runs the tests as root)")
        path.mkdir(parents=True, exist_ok=True)
        try:
            _mount("--bind", str(path), str(path))
            mounted.append(path)
            _mount("-o", "remount,bind,ro", str(path))
        except OSError as exc:
            pytest.skip(f"cannot bind-mount read-only here: {exc}")
        return path

    yield bind
    for path in reversed(mounted):
        _umount(path)


def fill(directory: Path) -> Path:
    """Fill the file system of `directory` to the last byte; answers the filler file."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 16, 4096, 512, 1):
            try:
                while True:
                    os.write(descriptor, b"\0" * size)
            except OSError:
                continue
    finally:
        os.close(descriptor)
    return filler
