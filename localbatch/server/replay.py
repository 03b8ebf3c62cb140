"""What a valid signature does not prove: that the request is new, and that its body is whole.

The signature covers the method, the headers and the target, not the body (the official
SDK signs no Content-MD5), and it stays valid while the request's `Date` is within the
15-minute window. So each signed request's `x-acs-signature-nonce` is accepted once: the
store records it until that window has passed (after that the Date check refuses the
request anyway), and a restart does not forget it. A body digest a client sends
(`Content-MD5`, signed, base64; the SDK's unsigned hex `contentMd5`) is held to the body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping

from localbatch.server.signature import MAX_DATE_SKEW_SECONDS, NONCE_HEADER, date_sent
from localbatch.spec.errors import ApiError

#: The SDK's own body digest header: the hex MD5 of the body, not signed.
SDK_DIGEST_HEADER = "contentMd5"


def nonce_key(access_key_id: str, headers: Mapping[str, str]) -> str:
    """What the store records: a nonce belongs to the key that signed it."""
    return f"{access_key_id}\n{headers.get(NONCE_HEADER, '')}"


def nonce_expiry(headers: Mapping[str, str], now: float) -> float:
    """Until when a verified request's nonce must be remembered: the end of the window of
    its Date (at least the window from now, should the clock step back)."""
    sent = date_sent(headers.get("Date", "")) or now
    return max(sent, now) + MAX_DATE_SKEW_SECONDS


def nonce_used() -> ApiError:
    return ApiError.from_catalogue("SignatureNonceUsed")


def digest_error(headers: Mapping[str, str], body: bytes) -> ApiError | None:
    """400 InvalidDigest when a digest header the client sent does not match the body."""
    md5 = hashlib.md5(body)
    given = headers.get("Content-MD5")
    if given is not None and _base64(given) != md5.digest():
        return ApiError.from_catalogue("InvalidDigest")
    given_hex = headers.get(SDK_DIGEST_HEADER)
    if given_hex is not None and given_hex.strip().lower() != md5.hexdigest():
        return ApiError.from_catalogue("InvalidDigest")
    return None


def _base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
