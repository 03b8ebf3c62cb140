"""Where each image comes from, for both runtimes: one set of rules (README, "Images").

An image name is looked for, in this order:
1. `localhost:5000/<name>[:tag]` with `BATCH_COMPUTE_DOCKER_REGISTRY_OSS_PATH` in the
   attempt's environment: the registry stored at that OSS path, served by the real
   registry for as long as the pull takes (as the service's VM serves it);
2. the image file `[image_sources]` names for it (a `docker save` archive, an OCI layout);
3. for the process runtime, a root file system `localbatch images build` made for it;
4. the Docker engine's own image of that name (the process runtime reads it through the
   engine when one answers; the Docker runtime uses it as it is).
Every image reaches the process runtime as a root file system cached by its config digest
(the Docker image id), so the two runtimes run the same bytes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from localbatch.config import Config
from localbatch.images import engine
from localbatch.images.archives import ArchiveSource, image_config, parse_source
from localbatch.images.oss_registry import RegistryStorage
from localbatch.images.reference import RegistryImage, registry_image
from localbatch.images.registry import loopback_registry
from localbatch.images.store import RootfsStore, RunConfig
from localbatch.images.tools import skopeo_copy
from localbatch.images.tree import RegistryTreeError, ResolvedImage
from localbatch.images.unpack import unpack_image
from localbatch.runtime.image_supply import ImageProblem, PreparedRootfs
from localbatch.runtime.rootfs import memory_directory
from localbatch.storage.resolver import OssResolver

#: How long "no Docker engine answers" is believed before asking again.
ENGINE_RETRY_SECONDS = 30.0
#: Connects to the Docker engine, or raises.
EngineFactory = Callable[[], Any]


def _docker_from_env() -> Any:
    import docker

    client = docker.from_env(timeout=10)
    client.ping()
    return client


class ImageSources:
    """Brings images into the Docker engine and into the process runtime's cache."""

    def __init__(
        self,
        config: Config,
        *,
        store: RootfsStore | None = None,
        engine_factory: EngineFactory | None = _docker_from_env,
    ) -> None:
        self.config = config
        self.resolver = OssResolver(config.oss)
        self.store = store or RootfsStore(config.image_cache)
        self.files: dict[str, ArchiveSource] = {
            name: parse_source(value) for name, value in config.image_sources.items()
        }
        self._engine_factory = engine_factory
        self._engine: Any = None
        self._engine_failed_at = -ENGINE_RETRY_SECONDS
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    @property
    def attempts_dir(self) -> Path:
        """Where attempts' upper layers go: in memory unless the config says disk (or
        /dev/shm is no tmpfs)."""
        if self.config.process_layers == "memory":
            directory = memory_directory()
            if directory is not None:
                return directory
        return self.store.attempts_dir

    # -- the registry at an OSS path --------------------------------------------------------

    def registry_storage(self, oss_path: str) -> RegistryStorage:
        return RegistryStorage(oss_path, self.resolver, self.store.mirrors_dir)

    def _resolve(self, image: RegistryImage) -> tuple[RegistryStorage, ResolvedImage]:
        try:
            storage = self.registry_storage(image.oss_path)
            return storage, storage.tree().resolve(image.image, image.repository, image.reference)
        except RegistryTreeError as exc:
            raise ImageProblem(str(exc)) from exc

    @contextlib.contextmanager
    def _served(
        self, storage: RegistryStorage, resolved: ResolvedImage, image: RegistryImage
    ) -> Iterator[str]:
        """The registry serving `resolved` while the block runs: yields the reference to
        pull, `127.0.0.1:PORT/<name>@<manifest digest>` (exactly the image the tree named)."""
        try:
            storage.bring_local(resolved)
        except RegistryTreeError as exc:
            raise ImageProblem(f"{self._what(image)}: {exc}") from exc
        with loopback_registry(storage.local_dir, read_only=True) as address:
            yield f"{address}/{image.repository}@{resolved.manifest_digest}"

    @staticmethod
    def _what(image: RegistryImage) -> str:
        return f"image {image.image} from the registry at {image.oss_path}"

    # -- the process runtime ----------------------------------------------------------------

    def root_for(self, image: str, env: Mapping[str, str]) -> PreparedRootfs:
        """The prepared root file system of `image` (RootfsSupply)."""
        if not image:
            raise ImageProblem("No image was given.")
        from_registry = registry_image(image, env)
        if from_registry is not None:
            return self._registry_root(from_registry)
        if image in self.files:
            return self._file_root(image, self.files[image])
        built = self.store.named(image)
        if built is not None:
            return built
        client = self.engine()
        try:
            info = engine.image_info(client, image) if client is not None else None
        except engine.ENGINE_ERRORS as exc:
            raise ImageProblem(
                f"The image {image} is not prepared for the process runtime and the Docker "
                f"engine did not answer about it: {exc}"
            ) from exc
        if info is None:
            raise ImageProblem(self._not_found(image, engine_answers=client is not None))
        image_id = str(info["Id"])
        return self.store.prepare(
            image_id.removeprefix("sha256:"),
            f"Docker engine image {image}",
            lambda work: unpack_image(
                f"docker-daemon:{image_id}", work, f"image {image} from the Docker engine"
            ),
        )

    def _registry_root(self, image: RegistryImage) -> PreparedRootfs:
        storage, resolved = self._resolve(image)
        what = self._what(image)

        def fill(work: Path) -> RunConfig:
            with self._served(storage, resolved, image) as reference:
                return unpack_image(f"docker://{reference}", work, what)

        return self.store.prepare(
            resolved.key, f"registry {image.oss_path} {image.repository}:{image.reference}", fill
        )

    def _file_root(self, image: str, source: ArchiveSource) -> PreparedRootfs:
        config = image_config(source)
        what = f"image {image} from {source}"
        return self.store.prepare(
            config.key, f"image file {source}", lambda work: unpack_image(str(source), work, what)
        )

    def engine(self) -> Any:
        """A client of the Docker engine, or None while none answers (asked again later)."""
        if self._engine is not None or self._engine_factory is None:
            return self._engine
        with self._guard:
            if time.monotonic() - self._engine_failed_at < ENGINE_RETRY_SECONDS:
                return None
            try:
                self._engine = self._engine_factory()
            except Exception:
                self._engine_failed_at = time.monotonic()
            return self._engine

    def _not_found(self, image: str, *, engine_answers: bool) -> str:
        from localbatch.runtime.images import how_to_get

        where = (
            "the Docker engine has no image of that name"
            if engine_answers
            else "no Docker engine answers to read it from"
        )
        hint = how_to_get(image, default_image=self.config.default_docker_image)
        return (
            f"The image {image} is not available to the process runtime: it is not built "
            f"here (`localbatch images build`), not named in [image_sources], and {where}: "
            f"{hint}."
        )

    # -- the Docker runtime -----------------------------------------------------------------

    def engine_image(self, client: Any, image: str, env: Mapping[str, str]) -> str:
        """The reference to create a container from (EngineSupply): registry and image-file
        images are brought into the engine first and named by their id."""
        from_registry = registry_image(image, env)
        if from_registry is not None:
            return self._registry_into_engine(client, from_registry)
        if image in self.files:
            return self._file_into_engine(client, image, self.files[image])
        return image

    def _registry_into_engine(self, client: Any, image: RegistryImage) -> str:
        storage, resolved = self._resolve(image)
        what = self._what(image)
        name = engine.registry_name(image.repository, image.reference)
        with self._lock(f"engine:{resolved.key}"):
            if not self._tagged(client, resolved.config_digest, name):
                with self._served(storage, resolved, image) as pulled:
                    engine.pull(client, pulled, what)
                    try:
                        self._require(client, resolved.config_digest, name, what)
                    finally:
                        engine.drop_reference(client, pulled)
        return resolved.config_digest

    def _file_into_engine(self, client: Any, image: str, source: ArchiveSource) -> str:
        config = image_config(source)
        what = f"image {image} from {source}"
        name = image if ":" in image.rsplit("/", 1)[-1] else f"{image}:latest"
        with self._lock(f"engine:{config.key}"):
            if not self._tagged(client, config.digest, name):
                skopeo_copy(str(source), f"docker-daemon:{name}", f"{what}: loading it")
                self._require(client, config.digest, name, what)
        return config.digest

    @staticmethod
    def _tagged(client: Any, image_id: str, name: str) -> bool:
        """Whether the engine has `image_id` (then named `name` too)."""
        try:
            info = engine.image_info(client, image_id)
            if info is not None:
                engine.ensure_tag(client, image_id, info, name)
        except engine.ENGINE_ERRORS as exc:
            raise ImageProblem(f"the Docker engine did not answer about {name}: {exc}") from exc
        return info is not None

    def _require(self, client: Any, image_id: str, name: str, what: str) -> None:
        if not self._tagged(client, image_id, name):
            raise ImageProblem(
                f"{what}: the engine took it, but has no image {image_id} afterwards"
            )
