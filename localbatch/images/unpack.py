"""One image, from wherever skopeo can read it, unpacked into a root file system.

skopeo copies the image into a scratch OCI layout, umoci applies its layers into
`<work>/rootfs`, and the layout is removed: the cache keeps only the files and the image's
environment. skopeo checks every blob against its digest on the way.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from localbatch.images.archives import ImageConfig, directory_reader, layout_config
from localbatch.images.store import RunConfig
from localbatch.images.tools import skopeo_copy, umoci_unpack

LAYOUT = "layout"
REF = "image"


def unpack_image(source: str, work: Path, what: str) -> RunConfig:
    """Unpack the image skopeo reads as `source` into `work/rootfs`; how it runs.
    `what` starts every error message ("image X from Y")."""
    config = copy_to_layout(source, work, what)
    umoci_unpack(work / LAYOUT, REF, work / "rootfs", f"{what}: unpacking")
    shutil.rmtree(work / LAYOUT, ignore_errors=True)
    return RunConfig.of(config.config)


def copy_to_layout(source: str, work: Path, what: str) -> ImageConfig:
    """skopeo copy of `source` into the layout `work/layout:image`; the image's config."""
    layout = work / LAYOUT
    skopeo_copy(source, f"oci:{layout}:{REF}", f"{what}: copying")
    return layout_config(directory_reader(layout), REF, str(layout))
