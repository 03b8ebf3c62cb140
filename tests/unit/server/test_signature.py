"""The acs signature: the two captured SDK requests verify; any changed byte is rejected."""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict

from localbatch.server.signature import (
    check_request,
    signed_headers,
    string_to_sign,
)

#: Copies of shared/spec/captured/sdk-signed-*.json: two requests exactly as the SDK sent them.
CAPTURED = Path(__file__).parent / "captured"
FILES = ["sdk-signed-get.json", "sdk-signed-createjob.json"]


def _load(name: str) -> dict[str, Any]:
    return dict(json.loads((CAPTURED / name).read_text()))


def _check(capture: dict[str, Any], headers: CIMultiDict[str], **kw: Any) -> Any:
    options = {
        "access_key_id": capture["access_key_id"],
        "access_key_secret": capture["access_key_secret"],
        **kw,
    }
    if "now" not in options:
        options["now"] = parsedate_to_datetime(headers["Date"]).timestamp()
    return check_request(capture["method"], headers, capture["target"], **options)


@pytest.mark.parametrize("name", FILES)
def test_captured_requests_verify(name: str) -> None:
    capture = _load(name)
    headers = CIMultiDict(capture["headers"])
    assert (
        string_to_sign(capture["method"], headers, capture["target"]) == capture["string_to_sign"]
    )
    assert _check(capture, headers) is None


@pytest.mark.parametrize("name", FILES)
def test_every_changed_signature_byte_is_rejected(name: str) -> None:
    capture = _load(name)
    original = dict(capture["headers"])["Authorization"]
    prefix, signature = original.rsplit(":", 1)
    for index in range(len(signature)):
        replacement = "A" if signature[index] != "A" else "B"
        forged = signature[:index] + replacement + signature[index + 1 :]
        headers = CIMultiDict(
            [
                (k, f"{prefix}:{forged}" if k == "Authorization" else v)
                for k, v in capture["headers"]
            ]
        )
        error = _check(capture, headers)
        assert error is not None and (error.http_status, error.code) == (403, "Forbidden")


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (("x-acs-region-id", "other"), "signature does not match"),
        (("Date", "Wed, 25 Nov 2026 16:29:49 GMT"), "signature does not match"),
        (("Authorization", "acs other-key:abc="), "AccessKeyId other-key"),
        (("Authorization", "Bearer x"), "not signed"),
        (("Date", "yesterday"), "not an RFC 1123 date"),
    ],
)
def test_changed_headers_are_rejected(change: tuple[str, str], needle: str) -> None:
    capture = _load("sdk-signed-get.json")
    name, value = change
    headers = CIMultiDict([(k, value if k == name else v) for k, v in capture["headers"]])
    now = parsedate_to_datetime("Wed, 25 Nov 2026 16:29:48 GMT").timestamp()
    error = _check(capture, headers, now=now)
    assert error is not None and error.code == "Forbidden"
    assert needle in error.message
    assert capture["access_key_secret"] not in error.message


def test_changed_target_is_rejected() -> None:
    capture = _load("sdk-signed-get.json")
    headers = CIMultiDict(capture["headers"])
    now = parsedate_to_datetime(headers["Date"]).timestamp()
    error = check_request(
        "GET",
        headers,
        capture["target"] + "?description",
        access_key_id="test-akid",
        access_key_secret="test-secret",
        now=now,
    )
    assert error is not None and error.code == "Forbidden"


@pytest.mark.parametrize(
    ("skew", "accepted"), [(14 * 60, True), (-14 * 60, True), (16 * 60, False)]
)
def test_date_must_be_within_15_minutes(skew: int, accepted: bool) -> None:
    capture = _load("sdk-signed-get.json")
    headers = CIMultiDict(capture["headers"])
    sent = parsedate_to_datetime(headers["Date"]).timestamp()
    error = _check(capture, headers, now=sent + skew)
    assert (error is None) == accepted


def test_signed_headers_verify_on_the_server_side() -> None:
    headers = signed_headers(
        "POST",
        "/jobs?IdempotentToken=t",
        access_key_id="ak",
        access_key_secret="sk",
        region="cn-local",
        now=1_800_000_000.0,
    )
    error = check_request(
        "POST",
        CIMultiDict(headers),
        "/jobs?IdempotentToken=t",
        access_key_id="ak",
        access_key_secret="sk",
        now=1_800_000_000.0,
    )
    assert error is None
    unsigned = signed_headers(
        "GET", "/jobs", access_key_id="", access_key_secret="", region="r", now=0.0
    )
    assert "Authorization" not in unsigned
