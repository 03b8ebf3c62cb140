"""20,000 seeded malformed requests against the API: never a 5xx, never a traceback.

Most requests are HTTP the server parses (so they reach the middleware and the handlers),
signed as the SDK signs or not, with hostile paths, queries, headers and bodies; a few are
not HTTP at all. Every answer from the API itself must be a JSON `{Code, Message}` body for
an error. The server logs with the filter `localbatch serve` installs.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localbatch.cli.server_logs import quiet_bad_requests
from tests.unit.server.fuzz_requests import RequestFactory, sdk_signer, send_all
from tests.unit.server.server_helpers import Api, make_body, start_signed_api

KEY_ID, SECRET = "fuzz-key", "fuzz-secret"
REQUESTS = int(os.environ.get("LOCALBATCH_FUZZ_REQUESTS", "20000"))
SEED = int(os.environ.get("LOCALBATCH_FUZZ_SEED", "20240611"))


@pytest.fixture
def signed(tmp_path: Path) -> Iterator[Api]:
    started = start_signed_api(tmp_path, KEY_ID, SECRET)
    yield started
    started.stack.close()


def test_malformed_requests_never_get_a_5xx(signed: Api, caplog: pytest.LogCaptureFixture) -> None:
    quiet_bad_requests()
    caplog.set_level(logging.INFO)
    job_id = signed.create(make_body())
    signed.wait_state(job_id, "Finished")
    factory = RequestFactory(SEED, make_body(), [job_id], sdk_signer(KEY_ID, SECRET))
    requests = [factory.request() for _ in range(REQUESTS)]

    started = time.monotonic()
    answers = send_all(signed.stack.api.port, requests)
    elapsed = time.monotonic() - started

    assert len(answers) == REQUESTS
    server_errors = [a for a in answers if a.status >= 500]
    assert not server_errors, [
        (a.status, a.sent.data[:300], a.body[:300]) for a in server_errors[:5]
    ]
    unanswered = [a for a in answers if a.status == 0 and a.sent.is_http]
    assert not unanswered, [a.sent.data[:300] for a in unanswered[:5]]
    for answer in answers:
        if answer.sent.is_http and answer.status >= 400 and answer.sent.method != "HEAD":
            error = json.loads(answer.body)
            assert set(error) == {"Code", "Message"}, answer
    reached = sum(1 for a in answers if a.status < 400)
    assert reached > REQUESTS // 50, "the fuzzer hardly reaches the handlers"
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info]
    assert tracebacks == []
    print(f"{REQUESTS} requests in {elapsed:.1f} s; {reached} answered 2xx")
