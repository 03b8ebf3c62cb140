"""What a surface may ask of the runtime it chose: --pull only where images are used."""

from __future__ import annotations

import pytest

from localbatch.application.runtime_choice import allow_pulls
from localbatch.runtime.fake import FakeRuntime


class Pulling(FakeRuntime):
    """A runtime that uses images and can pull them, as the docker runtime does."""

    uses_images = True

    def __init__(self) -> None:
        super().__init__()
        self.pull = False


def test_pull_is_refused_for_a_runtime_without_images() -> None:
    with pytest.raises(ValueError) as refused:
        allow_pulls(FakeRuntime())
    assert str(refused.value) == "--pull applies to the docker runtime only, not to fake"


def test_pull_is_allowed_where_images_are_used() -> None:
    runtime = Pulling()
    allow_pulls(runtime)
    assert runtime.pull is True
