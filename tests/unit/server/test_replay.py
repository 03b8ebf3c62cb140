"""Nonces and body digests at the API: what is refused, with which code, and what is not."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from localbatch.server.signature import signed_headers
from tests.unit.server.server_helpers import Api, Reply, make_body, start_api, start_signed_api

AK, SK = "replay-key", "replay-secret"


@pytest.fixture
def signed(tmp_path: Path) -> Iterator[Api]:
    started = start_signed_api(tmp_path, AK, SK)
    yield started
    started.stack.close()


def _signed(
    target: str, *, now: float | None = None, method: str = "GET", **extra: str
) -> dict[str, str]:
    headers = signed_headers(
        method,
        target,
        access_key_id=AK,
        access_key_secret=SK,
        region="cn-local",
        now=time.time() if now is None else now,
    )
    return {**headers, **extra}


def _resign(headers: dict[str, str], target: str, method: str = "GET") -> dict[str, str]:
    from localbatch.server.signature import signature, string_to_sign

    text = string_to_sign(method, headers, target)
    return {**headers, "Authorization": f"acs {AK}:{signature(SK, text)}"}


def test_the_same_nonce_twice_is_refused_even_with_a_new_date(signed: Api) -> None:
    first = _signed("/jobs")
    assert signed.request("GET", "/jobs", headers=first).status == 200
    later = _resign({**first, "Date": formatdate(time.time() + 1, usegmt=True)}, "/jobs")
    reply = signed.request("GET", "/jobs", headers=later)
    assert (reply.status, reply.body["Code"]) == (400, "SignatureNonceUsed")


def test_a_date_outside_the_window_is_forbidden_as_before(signed: Api) -> None:
    stale = _signed("/jobs", now=time.time() - 16 * 60)
    reply = signed.request("GET", "/jobs", headers=stale)
    assert (reply.status, reply.body["Code"]) == (403, "Forbidden")
    assert "15 minutes" in reply.body["Message"]


@pytest.mark.parametrize("nonce", ["", "n" * 129])
def test_a_signed_request_needs_a_sane_nonce(signed: Api, nonce: str) -> None:
    headers = _resign({**_signed("/jobs"), "x-acs-signature-nonce": nonce}, "/jobs")
    reply = signed.request("GET", "/jobs", headers=headers)
    assert (reply.status, reply.body["Code"]) == (403, "Forbidden")
    assert "x-acs-signature-nonce" in reply.body["Message"]


def test_an_unsigned_request_does_not_record_nonces(signed: Api) -> None:
    reply = signed.request("GET", "/jobs", headers={"Authorization": ""})
    assert reply.status == 403
    with signed.stack.store._write() as conn:
        assert conn.execute("SELECT COUNT(*) FROM signature_nonces").fetchone()[0] == 0


@pytest.mark.parametrize("signed_server", [True, False])
def test_body_digests_are_held_to_the_body(tmp_path: Path, signed_server: bool) -> None:
    api = start_signed_api(tmp_path, AK, SK) if signed_server else start_api(tmp_path)
    try:
        raw = json.dumps(make_body()).encode()
        md5 = hashlib.md5(raw)
        good = [
            {"contentMd5": md5.hexdigest()},
            {"contentMd5": md5.hexdigest().upper()},
            {"Content-MD5": base64.b64encode(md5.digest()).decode()},
        ]
        bad = [
            {"contentMd5": hashlib.md5(b"other").hexdigest()},
            {"contentMd5": ""},
            {"Content-MD5": base64.b64encode(hashlib.md5(b"x").digest()).decode()},
            {"Content-MD5": md5.hexdigest()},  # hex where base64 is due
            {"Content-MD5": "not base64!"},
        ]

        def post(digest: dict[str, str]) -> Reply:
            headers = digest
            if signed_server:  # Content-MD5 is signed
                headers = _resign({**_signed("/jobs", method="POST"), **digest}, "/jobs", "POST")
            return api.request("POST", "/jobs", raw=raw, headers=headers)

        for digest in bad:
            reply = post(digest)
            assert (reply.status, reply.body["Code"]) == (400, "InvalidDigest"), digest
        assert api.stack.store.job_count() == 0
        for digest in good:
            reply = post(digest)
            assert reply.status == 201, (digest, reply.body)
    finally:
        api.stack.close()
