"""Images: preparing them for the process runtime, running from them, pulling them from an
OSS-backed registry. Every figure is a ratio against a baseline of the same run.

- Root file system, first time: the default image unpacked into the cache (skopeo from an
  OCI layout, then umoci) vs `tar -xzf` of the same layer blobs into a directory.
- A cached image's cost per attempt: trivial attempts one after another on the process
  runtime in the default image vs with the host's files (`[sandbox] files = "host"`);
  the difference per attempt. Target: <= 5 ms.
- 200 trivial instances on the process runtime (parallelism 2, the default type's memory
  limit) in the default image vs with the host's files. Target: ratio <= 1.3.
- Pulling a 100 MB image from a registry stored at an OSS path (the local root) into the
  Docker engine, as a job naming `localhost:5000/...` does, vs `docker load` of the same
  image saved by `docker save`. Target: ratio <= 1.5.

Each side runs three times, alternating, and the faster round counts.
Run standalone: `.venv/bin/python -m bench.bench_images`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.bench_runtime import PARALLEL, PROCESSES, ROUNDS, SIZE, _best_of, _spec, _timed
from localbatch.config import DEFAULT_DOCKER_IMAGE, load_config
from localbatch.images.archives import directory_reader, layout_config
from localbatch.images.sources import ImageSources
from localbatch.images.store import RootfsStore
from localbatch.images.tools import skopeo_copy
from localbatch.images.unpack import unpack_image
from localbatch.runtime.base import Runtime, run_attempt

SEQUENTIAL = 100
BIG_MB = 100
REGISTRY_PATH = "oss://bench/dockers/"


def _timed_once(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def rootfs_first_time(tmp: Path) -> tuple[dict[str, Any], RootfsStore]:
    """The default image prepared from an OCI layout vs tar -xzf of its layers."""
    layout = tmp / "layout"
    skopeo_copy(f"docker-daemon:{DEFAULT_DOCKER_IMAGE}", f"oci:{layout}:img", "bench")
    config = layout_config(directory_reader(layout), "img", str(layout))
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].removeprefix("sha256:")
    manifest = json.loads((layout / "blobs/sha256" / manifest_digest).read_text())
    blobs = layout / "blobs" / "sha256"
    layers = [blobs / d["digest"].removeprefix("sha256:") for d in manifest["layers"]]
    rounds = iter(range(1000))

    def ours() -> float:
        store = RootfsStore(tmp / f"cache-{next(rounds)}")
        took = _timed_once(
            lambda: store.prepare(
                config.key, "bench", lambda work: unpack_image(f"oci:{layout}:img", work, "bench")
            )
        )
        shutil.rmtree(store.root)
        return took

    def untar() -> float:
        target = tmp / "untarred"
        target.mkdir()

        def extract() -> None:
            for layer in layers:
                subprocess.run(["tar", "-xzf", str(layer), "-C", str(target)], check=True)

        took = _timed_once(extract)
        shutil.rmtree(target)
        return took

    prepare_s, tar_s = _best_of(ours, untar)
    store = RootfsStore(tmp / "cache")
    store.prepare(
        config.key, "bench", lambda work: unpack_image(f"oci:{layout}:img", work, "bench")
    )
    store.record_name(DEFAULT_DOCKER_IMAGE, config.key)
    shutil.rmtree(layout)
    result = {
        "image": DEFAULT_DOCKER_IMAGE,
        "prepare_s": round(prepare_s, 3),
        "tar_xzf_s": round(tar_s, 3),
        "ratio": round(prepare_s / tar_s, 3),
    }
    return result, store


def _runtimes(tmp: Path, store: RootfsStore) -> tuple[Runtime, Runtime]:
    from localbatch.runtime.process import ProcessRuntime
    from localbatch.runtime.rootfs import memory_directory

    config = load_config(tmp / "none.toml", env={}, state_dir=tmp / "state")
    config = config.with_overrides(image_cache=store.root)
    image = ProcessRuntime(images=ImageSources(config), layers_dir=memory_directory())
    host = ProcessRuntime()
    for runtime in (image, host):
        runtime.check()
    return image, host


def _sequential(runtime: Runtime, root: Path, image: str) -> float:
    def run() -> None:
        for index in range(SEQUENTIAL):
            spec = _spec(root, index, image, 0)
            if not run_attempt(runtime, spec, 60, threading.Event()).succeeded:
                raise RuntimeError(f"attempt {index} failed")

    return _timed_once(run)


def _parallel(runtime: Runtime, root: Path, image: str) -> float:
    def one(index: int) -> None:
        spec = _spec(root, index, image, SIZE.memory_bytes)
        if not run_attempt(runtime, spec, 300, threading.Event()).succeeded:
            raise RuntimeError(f"attempt {index} failed")

    return _timed(PROCESSES, one)


def process_with_image(tmp: Path, store: RootfsStore) -> dict[str, Any]:
    image_runtime, host_runtime = _runtimes(tmp, store)
    root = tmp / "workdir"
    root.mkdir()
    _sequential(image_runtime, root, DEFAULT_DOCKER_IMAGE)  # warm-up
    image_s, host_s = _best_of(
        lambda: _sequential(image_runtime, root, DEFAULT_DOCKER_IMAGE),
        lambda: _sequential(host_runtime, root, ""),
    )
    many_image_s, many_host_s = _best_of(
        lambda: _parallel(image_runtime, root, DEFAULT_DOCKER_IMAGE),
        lambda: _parallel(host_runtime, root, ""),
    )
    return {
        "files": image_runtime.describe().rsplit("; ", 1)[-1],  # type: ignore[attr-defined]
        "sequential_attempts": SEQUENTIAL,
        "image_s": round(image_s, 3),
        "host_files_s": round(host_s, 3),
        "ms_per_attempt_added": round((image_s - host_s) / SEQUENTIAL * 1000, 2),
        "target_ms_per_attempt_added": 5,
        "instances": PROCESSES,
        "parallel": PARALLEL,
        "instances_image_s": round(many_image_s, 3),
        "instances_host_files_s": round(many_host_s, 3),
        "instances_ratio": round(many_image_s / many_host_s, 3),
        "target_instances_ratio": 1.3,
    }


def registry_pull(tmp: Path) -> dict[str, Any]:
    """A 100 MB image pulled from the registry at an OSS path vs `docker load`."""
    import docker

    from localbatch.images.push import push_image
    from localbatch.runtime.docker_images import DockerImageStore, EngineImages

    client = docker.from_env()
    content = tmp / "content.tar"
    subprocess.run(
        ["tar", "-cf", str(content), "-C", str(tmp), _random_file(tmp, BIG_MB)], check=True
    )
    name = f"localbatch-bench/big:{os.getpid()}"
    repository, _, tag = name.rpartition(":")
    client.api.import_image_from_file(str(content), repository=repository, tag=tag)
    image_id = str(client.api.inspect_image(name)["Id"])
    archive = tmp / "big.tar"
    with archive.open("wb") as sink:
        for chunk in client.api.get_image(name):
            sink.write(chunk)
    config = load_config(tmp / "none.toml", env={}, state_dir=tmp / "state", oss_root=tmp / "oss")
    sources = ImageSources(config, engine_factory=lambda: DockerImageStore(client))
    supply = EngineImages(sources)
    pushed = push_image(sources, name, REGISTRY_PATH)
    env = {"BATCH_COMPUTE_DOCKER_REGISTRY_OSS_PATH": REGISTRY_PATH}

    def forget() -> None:
        client.api.remove_image(image_id, force=True)

    def pull() -> float:
        forget()
        return _timed_once(lambda: supply.engine_image(client, pushed.target.job_image, env))

    def load() -> float:
        forget()
        with archive.open("rb") as data:
            return _timed_once(lambda: list(client.api.load_image(data)))

    try:
        pull_s, load_s = _best_of(pull, load)
    finally:
        forget()
    return {
        "image_mb": BIG_MB,
        "registry_pull_s": round(pull_s, 3),
        "docker_load_s": round(load_s, 3),
        "ratio": round(pull_s / load_s, 3),
        "target_ratio": 1.5,
    }


def _random_file(directory: Path, megabytes: int) -> str:
    """A file of incompressible bytes (the image's one layer), its name in `directory`."""
    with (directory / "payload.bin").open("wb") as sink:
        for _ in range(megabytes):
            sink.write(os.urandom(2**20))
    return "payload.bin"


def main() -> dict[str, Any]:
    results: dict[str, Any] = {"rounds": ROUNDS}
    with tempfile.TemporaryDirectory(prefix="localbatch-bench-images-") as tmp:
        root = Path(tmp)
        for part in ("rootfs", "process", "pull"):
            (root / part).mkdir()
        try:
            results["rootfs_first_time"], store = rootfs_first_time(root / "rootfs")
            results["process_runtime"] = process_with_image(root / "process", store)
        except Exception as exc:  # no engine or no tools: the pull may still be measured
            results["process_runtime"] = {"error": f"{type(exc).__name__}: {exc}"}
        try:
            results["registry_pull"] = registry_pull(root / "pull")
        except Exception as exc:
            results["registry_pull"] = {"error": f"{type(exc).__name__}: {exc}"}
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
