"""OSS v1 request signatures (`Authorization: OSS <id>:<signature>` or a presigned URL).

The string to sign is oss2's (`oss2.auth.ProviderAuth`): method, Content-MD5, Content-Type,
Date (or x-oss-date; `Expires` for a presigned URL), then each `x-oss-*` header as
`name:value\\n` sorted by lower-cased name, then the resource `/bucket/key` followed by the
sub-resources present in the query, sorted, as `k=v` or bare `k`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime

from localbatch.ossendpoint.errors import OssError

#: Query parameters that are part of the signed resource (oss2's `_subresource_key_set`).
SUBRESOURCES = frozenset(
    [
        "response-content-type",
        "response-content-language",
        "response-cache-control",
        "logging",
        "response-content-encoding",
        "acl",
        "uploadId",
        "uploads",
        "partNumber",
        "group",
        "link",
        "delete",
        "website",
        "location",
        "objectInfo",
        "objectMeta",
        "response-expires",
        "response-content-disposition",
        "cors",
        "lifecycle",
        "restore",
        "qos",
        "referer",
        "stat",
        "bucketInfo",
        "append",
        "position",
        "security-token",
        "live",
        "comp",
        "status",
        "vod",
        "startTime",
        "endTime",
        "x-oss-process",
        "symlink",
        "callback",
        "callback-var",
        "tagging",
        "encryption",
        "versions",
        "versioning",
        "versionId",
        "policy",
        "requestPayment",
        "x-oss-traffic-limit",
        "qosInfo",
        "asyncFetch",
        "x-oss-request-payer",
        "sequential",
        "inventory",
        "inventoryId",
        "continuation-token",
        "worm",
        "wormId",
        "wormExtend",
        "replication",
        "replicationLocation",
        "replicationProgress",
        "transferAcceleration",
        "cname",
        "metaQuery",
        "x-oss-ac-source-ip",
        "x-oss-ac-subnet-mask",
        "x-oss-ac-vpc-id",
        "x-oss-ac-forward-allow",
        "resourceGroup",
        "style",
        "styleName",
        "x-oss-async-process",
        "regionList",
        "x-oss-write-get-object-response",
    ]
)
#: The service refuses a Date further than this from its clock.
MAX_SKEW_SECONDS = 15 * 60
#: Query parameters of a presigned URL; never part of the signed resource.
PRESIGN_PARAMS = ("OSSAccessKeyId", "Expires", "Signature")


def canonical_resource(bucket: str, key: str, query: Mapping[str, str]) -> str:
    subresources = sorted((k, v) for k, v in query.items() if k in SUBRESOURCES)
    suffix = "&".join(f"{k}={v}" if v else k for k, v in subresources)
    base = f"/{bucket}/{key}" if bucket else "/"
    return base + ("?" + suffix if suffix else "")


@dataclass(frozen=True)
class SignedRequest:
    """The parts of a request a v1 signature covers; `headers` must be case-insensitive."""

    method: str
    headers: Mapping[str, str]
    bucket: str
    key: str
    query: Mapping[str, str]

    def string_to_sign(self, *, date: str | None = None) -> str:
        """oss2's string to sign (`date` replaces the Date header for presigned URLs)."""
        headers = self.headers
        oss_headers = sorted(
            (name.lower(), value)
            for name, value in headers.items()
            if name.lower().startswith("x-oss-")
        )
        canonical_headers = "".join(f"{name}:{value}\n" for name, value in oss_headers)
        if date is None:
            date = headers.get("x-oss-date", "") or headers.get("Date", "")
        return "\n".join(
            [
                self.method,
                headers.get("Content-MD5", ""),
                headers.get("Content-Type", ""),
                date,
                canonical_headers + canonical_resource(self.bucket, self.key, self.query),
            ]
        )


def sign(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode(), text.encode("utf-8", "surrogateescape"), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode()


class Verifier:
    """Checks requests against one access key; with no key configured, accepts everything."""

    def __init__(
        self, access_key_id: str, access_key_secret: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return bool(self.access_key_id and self.access_key_secret)

    def _now(self) -> float:
        return self._clock()

    def verify(self, request: SignedRequest) -> None:
        """Raise the service's 403 error unless the request is signed with the configured key."""
        if not self.enabled:
            return
        authorization = request.headers.get("Authorization", "")
        if authorization:
            self._verify_header(request, authorization)
        elif "Signature" in request.query and "OSSAccessKeyId" in request.query:
            self._verify_url(request)
        else:
            raise OssError("AccessDenied", "Anonymous access is forbidden for this operation.")

    def _check_key_id(self, key_id: str) -> None:
        if not hmac.compare_digest(key_id, self.access_key_id):
            raise OssError("InvalidAccessKeyId", extra={"OSSAccessKeyId": key_id})

    def _check_signature(self, provided: str, text: str) -> None:
        expected = sign(self.access_key_secret, text)
        if not hmac.compare_digest(provided.encode(), expected.encode()):
            raise OssError(
                "SignatureDoesNotMatch",
                extra={
                    "StringToSign": text,
                    "SignatureProvided": provided,
                    "OSSAccessKeyId": self.access_key_id,
                },
            )

    def _verify_header(self, request: SignedRequest, authorization: str) -> None:
        scheme, _, credential = authorization.partition(" ")
        if scheme != "OSS" or ":" not in credential:
            raise OssError(
                "AccessDenied",
                f"Only OSS v1 signatures ('OSS <AccessKeyId>:<Signature>') are verified by the "
                f"local endpoint; got authorization scheme {scheme!r}.",
            )
        key_id, _, provided = credential.strip().rpartition(":")
        self._check_key_id(key_id)
        headers = request.headers
        self._check_date(headers.get("x-oss-date", "") or headers.get("Date", ""))
        self._check_signature(provided, request.string_to_sign())

    def _verify_url(self, request: SignedRequest) -> None:
        query = request.query
        self._check_key_id(query["OSSAccessKeyId"])
        expires = query.get("Expires", "")
        if not expires.isdigit():
            raise OssError("AccessDenied", "A presigned URL needs a numeric Expires parameter.")
        if int(expires) < self._now():
            raise OssError("AccessDenied", "Request has expired.", extra={"Expires": expires})
        signed_query = {k: v for k, v in query.items() if k not in PRESIGN_PARAMS}
        text = replace(request, query=signed_query).string_to_sign(date=expires)
        self._check_signature(query["Signature"], text)

    def _check_date(self, date: str) -> None:
        try:
            sent = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError):
            message = f"The Date header {date!r} is missing or invalid."
            raise OssError("AccessDenied", message) from None
        if abs(sent - self._now()) > MAX_SKEW_SECONDS:
            raise OssError("RequestTimeTooSkewed", extra={"RequestTime": date})
