"""Image names checked as the registry checks them; the OSS-backed registry's names; the
`images push` target in both syntaxes."""

from __future__ import annotations

import pytest

from localbatch.images.reference import (
    ImageName,
    parse_image,
    push_target,
    registry_image,
)
from localbatch.runtime.image_supply import ImageProblem

DIGEST = "sha256:" + "ab" * 32
OSS_VAR = "BATCH_COMPUTE_DOCKER_REGISTRY_OSS_PATH"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ubuntu", ImageName("", "ubuntu")),
        ("team/app:1.0", ImageName("", "team/app", "1.0")),
        ("localhost:5000/a/b_c:t", ImageName("localhost:5000", "a/b_c", "t")),
        ("registry.example.com/x@" + DIGEST, ImageName("registry.example.com", "x", "", DIGEST)),
        ("x.y:5000/a-b__c.d:v", ImageName("x.y:5000", "a-b__c.d", "v")),
    ],
)
def test_valid_names(text: str, expected: ImageName) -> None:
    assert parse_image(text) == expected
    assert str(parse_image(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ubuntu",
        "Team/app",
        "team/../app",
        "team//app",
        "team/app:",
        "team/app:-x",
        "app@sha256:abc",
        "app@md5:" + "a" * 32,
        "a/" * 200 + "a",
        "app\x00",
        "lo$calhost:5000/app",
    ],
)
def test_invalid_names_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_image(text)


def test_a_registry_image_needs_localhost_5000_and_the_oss_path() -> None:
    env = {OSS_VAR: "oss://bucket/dockers"}
    found = registry_image("localhost:5000/team/app:2", env)
    assert found is not None
    assert (found.repository, found.reference, found.oss_path) == (
        "team/app",
        "2",
        "oss://bucket/dockers/",
    )
    assert registry_image("localhost:5000/team/app", env).reference == "latest"  # type: ignore[union-attr]
    assert registry_image("team/app:2", env) is None
    assert registry_image("localhost:5000/team/app:2", {}) is None


@pytest.mark.parametrize(
    ("image", "path", "expected"),
    [
        ("localhost:5000/Bad:1", "oss://b/p/", "not a valid repository name"),
        ("localhost:5000/app:1", "/local/dir/", "is not an OSS path"),
        ("localhost:5000/app:1", "oss://bkt/../p/", "'..' segment"),
    ],
)
def test_a_bad_registry_image_or_path_is_an_image_problem(
    image: str, path: str, expected: str
) -> None:
    with pytest.raises(ImageProblem, match=expected):
        registry_image(image, {OSS_VAR: path})


def test_push_target_in_both_syntaxes() -> None:
    local, target = push_target("team/app:3", "oss://bucket/dockers")
    assert (local, target.repository, target.tag, target.oss_path) == (
        "team/app:3",
        "team/app",
        "3",
        "oss://bucket/dockers/",
    )
    assert target.job_image == "localhost:5000/team/app:3"
    local, target = push_target("localhost:5000/app@oss://bucket/d/", None)  # bcs --docker
    assert (local, target.repository, target.tag) == ("localhost:5000/app", "app", "latest")


@pytest.mark.parametrize(
    ("image", "path", "expected"),
    [
        ("team/app:3", None, "give the OSS path"),
        ("team/app@" + DIGEST, "oss://b/p/", "name the image by a tag"),
        ("team/app:3", "oss://bkt/../p/", "empty"),
    ],
)
def test_push_target_errors(image: str, path: str | None, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        push_target(image, path)
