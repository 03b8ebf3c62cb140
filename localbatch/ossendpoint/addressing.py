"""Which bucket and key a request names: path style, virtual-host style, absolute form.

oss2 uses path style (`/bucket/key`) with an IP or `localhost` endpoint, and virtual-host
style (`Host: bucket.oss-cn-x.aliyuncs.com`, path `/key`) otherwise; through `HTTP_PROXY`
the request target is absolute (`http://bucket.oss-….com/key`), and its authority wins over
`Host`. A host is virtual-host style when it is `<bucket>.<rest>` where `<rest>` starts with
`oss` (every OSS endpoint name does) or is `localhost`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote


@dataclass(frozen=True)
class Target:
    """A request's resource: bucket ("" for the service), key ("" for the bucket) and query."""

    bucket: str
    key: str
    query: dict[str, str]
    #: The authority the client addressed (used as HostId in errors).
    host: str


def _hostname(authority: str) -> str:
    if authority.startswith("["):
        return authority[1 : authority.find("]")]
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def bucket_from_host(authority: str) -> str:
    """The bucket named by a virtual-host style authority, or "" for path style."""
    hostname = _hostname(authority).lower().rstrip(".")
    try:
        ipaddress.ip_address(hostname)
        return ""
    except ValueError:
        pass
    label, dot, rest = hostname.partition(".")
    if dot and label and (rest.startswith("oss") or rest == "localhost"):
        return label
    return ""


def parse_target(raw_target: str, host_header: str) -> Target:
    """Split a raw request target (origin or absolute form) into bucket, key and query."""
    authority = host_header
    target = raw_target
    lowered = target[:8].lower()
    if lowered.startswith(("http://", "https://")):
        after_scheme = target.split("://", 1)[1]
        slash = after_scheme.find("/")
        authority, target = (
            (after_scheme, "/")
            if slash < 0
            else (
                after_scheme[:slash],
                after_scheme[slash:],
            )
        )
    path, _, raw_query = target.partition("?")
    query = dict(parse_qsl(raw_query, keep_blank_values=True))
    path = path.lstrip("/")
    bucket = bucket_from_host(authority)
    if bucket:
        return Target(bucket=bucket, key=unquote(path), query=query, host=authority)
    raw_bucket, _, raw_key = path.partition("/")
    return Target(bucket=unquote(raw_bucket), key=unquote(raw_key), query=query, host=authority)
