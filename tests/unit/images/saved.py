"""A minimal `docker save` archive, for the tests that read image files."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path


def docker_archive(path: Path, config: bytes, tag: str = "team/x:1") -> str:
    """Write an archive holding one image whose config is `config`; its config digest."""
    manifest = [{"Config": "abc.json", "RepoTags": [tag], "Layers": []}]
    with tarfile.open(path, "w") as tar:
        for name, data in {
            "abc.json": config,
            "manifest.json": json.dumps(manifest).encode(),
        }.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return "sha256:" + hashlib.sha256(config).hexdigest()
