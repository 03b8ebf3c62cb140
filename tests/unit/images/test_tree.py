"""Reading a registry storage tree: which image a tag names, what serving it reads, and
every way the tree can lack it, said with the image, the OSS path and the missing piece.

The trees here are written by the test, file by file, in the registry's layout; the
integration tests read trees the registry itself wrote."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from localbatch.images.tree import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    V2,
    RegistryTree,
    RegistryTreeError,
    blob_path,
    host_platform,
)

WHERE = "oss://bucket/dockers/"
IMAGE = "localhost:5000/team/app:1"


def _tree(root: Path) -> RegistryTree:
    def read(relative: str) -> bytes | None:
        path = root / relative
        return path.read_bytes() if path.is_file() else None

    def size(relative: str) -> int | None:
        path = root / relative
        return path.stat().st_size if path.is_file() else None

    def listdir(relative: str) -> list[str]:
        path = root / relative
        return os.listdir(path) if path.is_dir() else []

    return RegistryTree(read, size, listdir, WHERE)


def _write(root: Path, relative: str, data: bytes) -> None:
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    (root / relative).write_bytes(data)


def _blob(root: Path, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _write(root, blob_path(digest), data)
    return digest


def _link(root: Path, relative: str, digest: str) -> None:
    _write(root, relative, digest.encode())


def _image(root: Path, repo: str = "team/app", tag: str = "1", layers: int = 2) -> dict[str, str]:
    """One schema 2 image written as the registry writes it; its digests by role."""
    repo_dir = f"{V2}/repositories/{repo}"
    config = _blob(root, json.dumps({"config": {"Env": ["A=1"]}}).encode())
    blobs = [(config, "config")] + [(_blob(root, b"layer %d" % n), "layer") for n in range(layers)]
    for digest, _ in blobs:
        _link(root, f"{repo_dir}/_layers/sha256/{digest[7:]}/link", digest)
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"digest": config, "size": (root / blob_path(config)).stat().st_size},
        "layers": [
            {"digest": d, "size": (root / blob_path(d)).stat().st_size} for d, _ in blobs[1:]
        ],
    }
    manifest_digest = _blob(root, json.dumps(manifest).encode())
    _link(
        root, f"{repo_dir}/_manifests/revisions/sha256/{manifest_digest[7:]}/link", manifest_digest
    )
    _link(root, f"{repo_dir}/_manifests/tags/{tag}/current/link", manifest_digest)
    return {"config": config, "manifest": manifest_digest, "layer": blobs[1][0]}


def test_a_tag_resolves_to_its_manifest_config_and_the_files_serving_reads(tmp_path: Path) -> None:
    digests = _image(tmp_path)
    resolved = _tree(tmp_path).resolve(IMAGE, "team/app", "1")
    assert resolved.manifest_digest == digests["manifest"]
    assert resolved.config_digest == digests["config"]
    assert resolved.key == digests["config"][7:]
    assert [b.what for b in resolved.blobs] == ["config", "layer 1 of 2", "layer 2 of 2"]
    for link in resolved.links:
        assert (tmp_path / link).is_file()
    assert len(resolved.links) == 2 + 3  # tag, revision, one _layers link per blob
    by_digest = _tree(tmp_path).resolve(IMAGE, "team/app", digests["manifest"])
    assert by_digest.config_digest == digests["config"]


def test_a_manifest_list_resolves_to_this_hosts_platform(tmp_path: Path) -> None:
    digests = _image(tmp_path, tag="single")
    os_name, arch = host_platform()
    index = {
        "schemaVersion": 2,
        "mediaType": DOCKER_LIST,
        "manifests": [
            {"digest": "sha256:" + "0" * 64, "platform": {"os": "windows", "architecture": arch}},
            {"digest": digests["manifest"], "platform": {"os": os_name, "architecture": arch}},
        ],
    }
    list_digest = _blob(tmp_path, json.dumps(index).encode())
    repo_dir = f"{V2}/repositories/team/app"
    _link(tmp_path, f"{repo_dir}/_manifests/revisions/sha256/{list_digest[7:]}/link", list_digest)
    _link(tmp_path, f"{repo_dir}/_manifests/tags/multi/current/link", list_digest)
    resolved = _tree(tmp_path).resolve(IMAGE, "team/app", "multi")
    assert resolved.manifest_digest == list_digest
    assert resolved.config_digest == digests["config"]
    assert [m.digest for m in resolved.manifests] == [list_digest, digests["manifest"]]


def _error(root: Path, repository: str = "team/app", reference: str = "1") -> str:
    with pytest.raises(RegistryTreeError) as caught:
        _tree(root).resolve(IMAGE, repository, reference)
    return str(caught.value)


def test_no_tree_at_all(tmp_path: Path) -> None:
    assert _error(tmp_path) == (
        f"image {IMAGE}: no registry storage at {WHERE} (nothing under {WHERE}{V2}/; push "
        "the image there first: `localbatch images push`)"
    )


def test_no_such_repository_lists_those_there(tmp_path: Path) -> None:
    _image(tmp_path, repo="team/other")
    _image(tmp_path, repo="solo")
    assert _error(tmp_path) == (
        f"image {IMAGE}: no repository 'team/app' in the registry at {WHERE} "
        "(repositories there: solo, team/other)"
    )


def test_no_such_tag_lists_the_tags(tmp_path: Path) -> None:
    _image(tmp_path, tag="2")
    _image(tmp_path, tag="3")
    assert _error(tmp_path) == (
        f"image {IMAGE}: no tag '1' in repository 'team/app' of the registry at {WHERE} "
        "(tags there: 2, 3)"
    )


def test_a_missing_layer(tmp_path: Path) -> None:
    digests = _image(tmp_path)
    (tmp_path / blob_path(digests["layer"])).unlink()
    assert _error(tmp_path) == (
        f"image {IMAGE}: broken blob: its layer 1 of 2 {digests['layer']} is missing from the "
        f"registry at {WHERE} (no {blob_path(digests['layer'])})"
    )


def test_a_layer_of_the_wrong_size(tmp_path: Path) -> None:
    digests = _image(tmp_path)
    (tmp_path / blob_path(digests["layer"])).write_bytes(b"longer than it was")
    assert "is 18 bytes, its manifest says 7" in _error(tmp_path)


def test_a_config_that_does_not_match_its_digest(tmp_path: Path) -> None:
    digests = _image(tmp_path)
    (tmp_path / blob_path(digests["config"])).write_bytes(b"{}")
    assert _error(tmp_path) == (
        f"image {IMAGE}: broken blob: its config {digests['config']} at {WHERE}"
        f"{blob_path(digests['config'])} does not match its digest"
    )


def test_a_layer_not_linked_to_the_repository(tmp_path: Path) -> None:
    digests = _image(tmp_path)
    link = f"{V2}/repositories/team/app/_layers/sha256/{digests['layer'][7:]}/link"
    (tmp_path / link).unlink()
    assert f"does not link layer 1 of 2 {digests['layer']} to repository 'team/app'" in (
        _error(tmp_path)
    )


def test_a_link_that_is_no_digest(tmp_path: Path) -> None:
    _image(tmp_path)
    _write(tmp_path, f"{V2}/repositories/team/app/_manifests/tags/1/current/link", b"../../x")
    assert "does not hold a sha256 digest" in _error(tmp_path)


def test_an_old_schema_1_manifest(tmp_path: Path) -> None:
    manifest = _blob(tmp_path, json.dumps({"schemaVersion": 1, "fsLayers": []}).encode())
    repo_dir = f"{V2}/repositories/team/app"
    _link(tmp_path, f"{repo_dir}/_manifests/revisions/sha256/{manifest[7:]}/link", manifest)
    _link(tmp_path, f"{repo_dir}/_manifests/tags/1/current/link", manifest)
    assert "old schema 1 format" in _error(tmp_path)


def test_a_digest_reference_the_repository_does_not_have(tmp_path: Path) -> None:
    _image(tmp_path)
    other = "sha256:" + "1" * 64
    assert _error(tmp_path, reference=other) == (
        f"image {IMAGE}: repository 'team/app' in the registry at {WHERE} has no manifest {other}"
    )
