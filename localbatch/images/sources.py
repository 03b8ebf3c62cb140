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
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from localbatch.config import Config, ImageFile, parse_image_file
from localbatch.images.archives import image_config
from localbatch.images.oss_registry import RegistryStorage
from localbatch.images.reference import RegistryImage, registry_image
from localbatch.images.registry import loopback_registry
from localbatch.images.store import Fill, RootfsStore, RunConfig
from localbatch.images.tree import RegistryTreeError, ResolvedImage
from localbatch.images.unpack import unpack_image
from localbatch.runtime.image_supply import (
    EngineImageStore,
    ImagePreparation,
    ImageProblem,
    PreparationListener,
    PreparedRootfs,
)
from localbatch.storage.resolver import OssResolver

log = logging.getLogger(__name__)

#: How long "no Docker engine answers" is believed before asking again.
ENGINE_RETRY_SECONDS = 30.0
#: Connects to the Docker engine's images, or raises (given by the runtime layer).
EngineFactory = Callable[[], EngineImageStore]


class ImageSources:
    """Where images are found, for both runtimes; brings them into the process runtime's
    cache (the Docker runtime's supply, `runtime.docker_images`, uses it to find them)."""

    def __init__(
        self,
        config: Config,
        *,
        store: RootfsStore | None = None,
        engine_factory: EngineFactory | None = None,
    ) -> None:
        self.config = config
        self.resolver = OssResolver(config.oss)
        self.store = store or RootfsStore(config.image_cache)
        self.files: dict[str, ImageFile] = {
            name: parse_image_file(value) for name, value in config.image_sources.items()
        }
        self._engine_factory = engine_factory
        self._engine: EngineImageStore | None = None
        self._engine_failed_at = -ENGINE_RETRY_SECONDS
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        #: Told as an image is prepared for either runtime (the log, unless a run shows it).
        self._listener: PreparationListener = _log_preparation

    def lock(self, key: str) -> threading.Lock:
        """One lock per key (an image digest), so that one thread brings an image in."""
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    @property
    def attempts_dir(self) -> Path:
        """Where attempts' upper layers go on disk (the runtime keeps them in memory unless
        the config says disk)."""
        return self.store.attempts_dir

    # -- the registry at an OSS path --------------------------------------------------------

    def registry_storage(self, oss_path: str) -> RegistryStorage:
        return RegistryStorage(oss_path, self.resolver, self.store.mirrors_dir)

    def resolve(self, image: RegistryImage) -> tuple[RegistryStorage, ResolvedImage]:
        """The registry storage at the image's OSS path and the image as its tree names it;
        ImageProblem naming what is missing."""
        try:
            storage = self.registry_storage(image.oss_path)
            return storage, storage.tree().resolve(image.image, image.repository, image.reference)
        except RegistryTreeError as exc:
            raise ImageProblem(str(exc)) from exc

    @contextlib.contextmanager
    def served(
        self, storage: RegistryStorage, resolved: ResolvedImage, image: RegistryImage
    ) -> Iterator[str]:
        """The registry serving `resolved` while the block runs: yields the reference to
        pull, `127.0.0.1:PORT/<name>@<manifest digest>` (exactly the image the tree named)."""
        try:
            storage.bring_local(resolved)
        except RegistryTreeError as exc:
            raise ImageProblem(f"{self.what(image)}: {exc}") from exc
        with loopback_registry(storage.local_dir, read_only=True) as address:
            yield f"{address}/{image.repository}@{resolved.manifest_digest}"

    @staticmethod
    def what(image: RegistryImage) -> str:
        return f"image {image.image} from {ImageSources.registry_source(image)}"

    @staticmethod
    def registry_source(image: RegistryImage) -> str:
        """Where a registry image comes from, in words (an `ImagePreparation.source`)."""
        return f"the registry at {image.oss_path}"

    @staticmethod
    def file_source(source: ImageFile) -> str:
        """Where an image file's image comes from, in words (an `ImagePreparation.source`)."""
        return f"the image file {source}"

    # -- first uses told, for both runtimes -------------------------------------------------

    def tell_preparation(self, listener: PreparationListener) -> None:
        """Tell `listener` of each image prepared, for the sandbox or brought into the
        Docker engine (TellsPreparation)."""
        self._listener = listener

    @contextlib.contextmanager
    def telling(self, begun: ImagePreparation) -> Iterator[None]:
        """Tell the listener as the block begins and as it ends (failed or not): the block
        brings the image in, for either runtime, when it is not there yet."""
        self._tell(begun)
        began = time.monotonic()
        try:
            yield
        except Exception as exc:
            self._tell(begun.ended(time.monotonic() - began, str(exc) or type(exc).__name__))
            raise
        self._tell(begun.ended(time.monotonic() - began))

    def _tell(self, preparation: ImagePreparation) -> None:
        try:
            self._listener(preparation)
        except Exception:  # showing it must never stop the image being prepared
            log.exception("telling of %s failed", preparation)

    # -- the process runtime ----------------------------------------------------------------

    def _told(self, image: str, source: str, fill: Fill) -> Fill:
        """`fill` telling the listener as it begins and ends: it runs only when the image is
        not prepared yet (once, whoever else waits for it)."""

        def told(work: Path) -> RunConfig:
            with self.telling(ImagePreparation(image, source)):
                return fill(work)

        return told

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
        engine = self.engine()
        image_id = engine.image_id(image) if engine is not None else None
        if image_id is None:
            raise ImageProblem(self._not_found(image, engine_answers=engine is not None))
        return self.store.prepare(
            image_id.removeprefix("sha256:"),
            f"Docker engine image {image}",
            self._told(
                image,
                "the Docker engine",
                lambda work: unpack_image(
                    f"docker-daemon:{image_id}", work, f"image {image} from the Docker engine"
                ),
            ),
        )

    # -- the checks before a run: nothing brought, unpacked or pulled -----------------------

    def brought_problem(
        self, image: str, env: Mapping[str, str], otherwise: Callable[[str], str | None]
    ) -> str | None:
        """Why `image` cannot be had: a registry image its tree lacks, an image file that
        cannot be read; any other image is answered by `otherwise` (where the runtime looks
        for it). None when it can be had."""
        if not image:
            return "No image was given."
        try:
            from_registry = registry_image(image, env)
            if from_registry is not None:
                self.resolve(from_registry)
                return None
            if image in self.files:
                image_config(self.files[image])
                return None
        except ImageProblem as exc:
            return exc.message
        return otherwise(image)

    def image_problem(self, image: str, env: Mapping[str, str]) -> str | None:
        """Why the process runtime could not have `image` (ChecksRootfs)."""
        return self.brought_problem(image, env, self._unbrought_problem)

    def _unbrought_problem(self, image: str) -> str | None:
        if self.store.named(image) is not None:
            return None
        engine = self.engine()
        try:
            image_id = engine.image_id(image) if engine is not None else None
        except ImageProblem as exc:
            return exc.message
        return None if image_id else self._not_found(image, engine_answers=engine is not None)

    def ready_root(self, image: str, env: Mapping[str, str]) -> PreparedRootfs | None:
        """The image's root file system when it is prepared already (ChecksRootfs); None
        when it is not, or that cannot be told without bringing it."""
        try:
            from_registry = registry_image(image, env)
            if from_registry is not None:
                return self.store.get(self.resolve(from_registry)[1].key)
            if image in self.files:
                return self.store.get(image_config(self.files[image]).key)
            built = self.store.named(image)
            if built is not None:
                return built
            engine = self.engine()
            image_id = engine.image_id(image) if engine is not None else None
        except ImageProblem:
            return None
        return self.store.get(image_id.removeprefix("sha256:")) if image_id else None

    def _registry_root(self, image: RegistryImage) -> PreparedRootfs:
        storage, resolved = self.resolve(image)
        what = self.what(image)

        def fill(work: Path) -> RunConfig:
            with self.served(storage, resolved, image) as reference:
                return unpack_image(f"docker://{reference}", work, what)

        return self.store.prepare(
            resolved.key,
            f"registry {image.oss_path} {image.repository}:{image.reference}",
            self._told(image.image, self.registry_source(image), fill),
        )

    def _file_root(self, image: str, source: ImageFile) -> PreparedRootfs:
        config = image_config(source)
        what = f"image {image} from {source}"
        return self.store.prepare(
            config.key,
            f"image file {source}",
            self._told(
                image, self.file_source(source), lambda work: unpack_image(str(source), work, what)
            ),
        )

    def engine(self) -> EngineImageStore | None:
        """The Docker engine's images, or None while no engine answers (asked again later)."""
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


def _log_preparation(preparation: ImagePreparation) -> None:
    log.info("%s", preparation.line())
