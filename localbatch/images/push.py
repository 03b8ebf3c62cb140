"""`localbatch images push`: an image into the registry stored at an OSS path, through the
real registry, so that a job naming `localhost:5000/<name>:<tag>` with that path finds it
(here, or on the service once the path is on real OSS).

The image comes from the Docker engine (pushed by the engine itself), or from an image file
(`--from`, or the one `[image_sources]` names for it; copied by skopeo): either way the
registry writes the tree, exactly as a registry with the OSS storage driver would.
"""

from __future__ import annotations

from dataclasses import dataclass

from localbatch.config import parse_image_file
from localbatch.images.reference import PushTarget, push_target
from localbatch.images.registry import loopback_registry
from localbatch.images.sources import ImageSources
from localbatch.images.tools import skopeo_copy
from localbatch.images.tree import RegistryTreeError, ResolvedImage
from localbatch.plan.node_choice import REGISTRY_OSS_VAR
from localbatch.runtime.image_supply import ImageProblem


@dataclass(frozen=True)
class Pushed:
    local_image: str
    source: str
    target: PushTarget
    resolved: ResolvedImage

    def describe(self) -> str:
        """What was pushed where, and the two lines a job needs to run it."""
        target = self.target
        return "\n".join(
            [
                f"pushed {self.local_image} ({self.source}) to the registry at "
                f"{target.oss_path} as {target.repository}:{target.tag}",
                f"  manifest {self.resolved.manifest_digest}, image id "
                f"{self.resolved.config_digest}",
                f"a task runs it with Command.Docker.Image = {target.job_image} and EnvVars "
                f"{REGISTRY_OSS_VAR} = {target.oss_path}",
                f"  (bcs: --docker {target.repository}:{target.tag}@{target.oss_path})",
            ]
        )


def push_image(
    sources: ImageSources, image: str, oss_path: str | None, from_file: str | None = None
) -> Pushed:
    """Push `image` (`IMAGE oss://...` or `IMAGE@oss://...`); ImageProblem or ValueError
    saying what is wrong."""
    local_image, target = push_target(image, oss_path)
    what = f"pushing {local_image} to {target.oss_path}"
    file_source = parse_image_file(from_file) if from_file else sources.files.get(local_image)
    engine = None if file_source is not None else sources.engine()
    if file_source is None and engine is None:
        raise ImageProblem(
            f"{what}: no Docker engine answers to read {local_image} from, and "
            f"[image_sources] names no image file for it: give one with --from "
            "docker-archive:PATH (or oci:PATH[:REF])"
        )
    try:
        storage = sources.registry_storage(target.oss_path)
        with (
            storage.push_directory() as directory,
            loopback_registry(directory, read_only=False) as address,
        ):
            destination = f"{address}/{target.repository}:{target.tag}"
            if engine is not None:
                engine.push(local_image, destination, what)
            else:
                skopeo_copy(str(file_source), f"docker://{destination}", what)
        resolved = storage.tree().resolve(target.job_image, target.repository, target.tag)
    except RegistryTreeError as exc:
        raise ImageProblem(f"{what}: {exc}") from exc
    source = f"image file {file_source}" if file_source is not None else "Docker engine"
    return Pushed(local_image, source, target, resolved)
