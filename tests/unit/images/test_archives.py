"""Image files named in `[image_sources]`: the syntax, and which image each holds (its
config digest) read from its index without a tool."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from localbatch.config import ImageFile, parse_image_file
from localbatch.images.archives import image_config
from localbatch.runtime.image_supply import ImageProblem
from tests.unit.images.saved import docker_archive

CONFIG = json.dumps({"config": {"Env": ["PATH=/bin", "A=1"]}}).encode()
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG).hexdigest()


def test_parse_image_file() -> None:
    assert parse_image_file("docker-archive:/d/x.tar") == ImageFile(
        "docker-archive", Path("/d/x.tar")
    )
    assert parse_image_file("oci:/d/layout:tool") == ImageFile("oci", Path("/d/layout"), "tool")
    for bad in ("/d/x.tar", "docker://team/x:1", "oci:relative/layout"):
        with pytest.raises(ValueError):
            parse_image_file(bad)


def _blob(root: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _layout(root: Path, refs: tuple[str, ...] = ("tool",)) -> Path:
    manifest = json.dumps({"schemaVersion": 2, "config": _blob(root, CONFIG), "layers": []})
    entry = _blob(root, manifest.encode())
    manifests = [
        {**entry, "annotations": {"org.opencontainers.image.ref.name": ref}} for ref in refs
    ]
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": manifests}))
    return root


def test_an_oci_layout_by_ref_and_the_only_one(tmp_path: Path) -> None:
    layout = _layout(tmp_path / "layout")
    for text in (f"oci:{layout}:tool", f"oci:{layout}"):
        config = image_config(parse_image_file(text))
        assert config.digest == CONFIG_DIGEST
        assert config.config["config"]["Env"] == ["PATH=/bin", "A=1"]


def test_an_oci_layout_with_several_images_needs_a_ref(tmp_path: Path) -> None:
    layout = _layout(tmp_path / "layout", ("a", "b"))
    with pytest.raises(ImageProblem, match=r"name one image of the layout \(a, b there\)"):
        image_config(parse_image_file(f"oci:{layout}"))
    with pytest.raises(ImageProblem, match="no image 'c' in the layout"):
        image_config(parse_image_file(f"oci:{layout}:c"))


def test_a_docker_save_archive(tmp_path: Path) -> None:
    archive = tmp_path / "saved.tar"
    assert docker_archive(archive, CONFIG) == CONFIG_DIGEST
    assert image_config(parse_image_file(f"docker-archive:{archive}")).digest == CONFIG_DIGEST
    named = image_config(parse_image_file(f"docker-archive:{archive}:team/x:1"))
    assert named.key == CONFIG_DIGEST[7:]
    with pytest.raises(ImageProblem, match="no image 'team/y:1' in the archive"):
        image_config(parse_image_file(f"docker-archive:{archive}:team/y:1"))


def test_unreadable_files_say_which(tmp_path: Path) -> None:
    with pytest.raises(ImageProblem, match=f"the image file docker-archive:{tmp_path}/none.tar"):
        image_config(parse_image_file(f"docker-archive:{tmp_path}/none.tar"))
    (tmp_path / "junk.tar").write_bytes(b"not a tar")
    with pytest.raises(ImageProblem, match="cannot be read"):
        image_config(parse_image_file(f"docker-archive:{tmp_path}/junk.tar"))


def test_an_oci_archive(tmp_path: Path) -> None:
    import tarfile

    layout = _layout(tmp_path / "layout")
    archive = tmp_path / "layout.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(layout, arcname=".")  # as `tar -C layout -cf layout.tar .` writes it
    assert image_config(parse_image_file(f"oci-archive:{archive}:tool")).digest == CONFIG_DIGEST
