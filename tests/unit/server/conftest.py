from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.unit.server.server_helpers import Api, Body, make_body, start_api


@pytest.fixture
def job_body() -> Callable[..., Body]:
    return make_body


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    started = start_api(tmp_path)
    yield started
    started.stack.close()
