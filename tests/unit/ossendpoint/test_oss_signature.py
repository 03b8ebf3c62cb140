"""The verifier accepts exactly what oss2 signs, and nothing with a byte changed."""

from __future__ import annotations

import time

import pytest
from multidict import CIMultiDict
from oss2 import Auth, http

from localbatch.ossendpoint.errors import OssError
from localbatch.ossendpoint.signature import SignedRequest, Verifier, canonical_resource


def signed_by_oss2(
    method: str, bucket: str, key: str, params: dict[str, str], headers: dict[str, str]
) -> SignedRequest:
    url = f"http://127.0.0.1/{bucket}/{key}"
    request = http.Request(method, url, params=params, headers=headers)
    Auth("akid", "secret")._sign_request(request, bucket, key)
    return SignedRequest(method, CIMultiDict(request.headers), bucket, key, params)


def test_canonical_resource_keeps_only_subresources_sorted() -> None:
    query = {"uploadId": "U", "partNumber": "2", "max-keys": "5", "acl": ""}
    assert canonical_resource("b", "k", query) == "/b/k?acl&partNumber=2&uploadId=U"
    assert canonical_resource("", "", {}) == "/"
    assert canonical_resource("b", "", {"bucketInfo": ""}) == "/b/?bucketInfo"


@pytest.mark.parametrize(
    ("method", "key", "params", "headers"),
    [
        ("PUT", "dir/ü file.txt", {}, {"Content-Type": "text/plain", "x-oss-meta-A": "1"}),
        ("GET", "", {"list-type": "2", "prefix": "x"}, {}),
        ("POST", "k", {"append": "", "position": "7"}, {"Content-MD5": "abc=="}),
        ("PUT", "k", {"partNumber": "1", "uploadId": "ID"}, {"x-oss-security-token": "t"}),
    ],
)
def test_requests_signed_by_oss2_verify(
    method: str, key: str, params: dict[str, str], headers: dict[str, str]
) -> None:
    request = signed_by_oss2(method, "bkt", key, params, headers)
    check = Verifier("akid", "secret")  # oss2 signs with the real clock
    check.verify(request)
    tampered = SignedRequest(method, request.headers, "bkt", key + "x", params)
    with pytest.raises(OssError) as caught:
        check.verify(tampered)
    assert caught.value.code == "SignatureDoesNotMatch"


def test_changed_signature_byte_is_refused() -> None:
    request = signed_by_oss2("GET", "bkt", "k", {}, {})
    header = request.headers["authorization"]
    flipped = header[:-2] + ("A" if header[-2] != "A" else "B") + header[-1]
    headers = CIMultiDict(request.headers)
    headers["authorization"] = flipped
    with pytest.raises(OssError) as caught:
        Verifier("akid", "secret").verify(SignedRequest("GET", headers, "bkt", "k", {}))
    assert caught.value.code == "SignatureDoesNotMatch"


def test_disabled_verifier_accepts_anything() -> None:
    Verifier("", "").verify(SignedRequest("GET", CIMultiDict(), "b", "k", {}))


def test_request_signed_long_ago_is_too_skewed() -> None:
    request = signed_by_oss2("GET", "bkt", "k", {}, {})
    later = Verifier("akid", "secret", clock=lambda: time.time() + 3600)
    with pytest.raises(OssError) as caught:
        later.verify(request)
    assert caught.value.code == "RequestTimeTooSkewed"


def test_other_schemes_are_access_denied() -> None:
    check = Verifier("akid", "secret")
    for authorization in ("OSS4-HMAC-SHA256 Credential=x", "Bearer x", "OSS nocolon"):
        headers = CIMultiDict({"Authorization": authorization, "Date": "x"})
        with pytest.raises(OssError) as caught:
            check.verify(SignedRequest("GET", headers, "b", "k", {}))
        assert caught.value.code == "AccessDenied"
