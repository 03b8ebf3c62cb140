"""The XML documents of OSS's API, built and parsed as oss2 (`oss2/xml_utils.py`) reads them.

No namespace (unlike S3), `<Type>` inside `<Contents>`, ETags in double quotes, and keys
URL-encoded when the request asked for `encoding-type=url`.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote
from xml.sax.saxutils import escape

from localbatch.ossendpoint.errors import OssError
from localbatch.ossendpoint.listing import ListPage, ListQuery
from localbatch.ossendpoint.store import ObjectInfo

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
#: Owner reported on objects and buckets; the local root has a single owner.
OWNER_ID = "localbatch"
STORAGE_CLASS = "Standard"
#: Longest request document accepted (DeleteMultipleObjects of 1,000 long keys fits).
MAX_REQUEST_XML = 4 << 20


def iso8601(timestamp: float) -> str:
    """oss2 accepts only a zero fraction (`….000Z`), as the service sends."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(timestamp))


def _el(name: str, value: object) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _document(root: str, parts: Iterable[str]) -> bytes:
    return (XML_HEAD + f"<{root}>" + "".join(parts) + f"</{root}>").encode()


def _owner() -> str:
    return f"<Owner>{_el('ID', OWNER_ID)}{_el('DisplayName', OWNER_ID)}</Owner>"


class KeyEncoder:
    """Keys as text, or URL-encoded when the client sent `encoding-type=url`."""

    def __init__(self, encoding_type: str) -> None:
        if encoding_type not in ("", "url"):
            raise OssError(
                "InvalidArgument", f"Unsupported encoding-type {encoding_type!r}; use 'url'."
            )
        self.url = encoding_type == "url"

    def __call__(self, key: str) -> str:
        return quote(key, safe="") if self.url else key

    def element(self) -> str:
        return _el("EncodingType", "url") if self.url else ""


def _contents(info: ObjectInfo, encode: KeyEncoder) -> str:
    return (
        "<Contents>"
        + _el("Key", encode(info.key))
        + _el("LastModified", iso8601(info.mtime))
        + _el("ETag", f'"{info.meta.etag}"')
        + _el("Type", info.meta.object_type)
        + _el("Size", info.size)
        + _el("StorageClass", STORAGE_CLASS)
        + _owner()
        + "</Contents>"
    )


def _listing_body(page: ListPage, encode: KeyEncoder) -> list[str]:
    parts = [_contents(info, encode) for info in page.objects]
    parts.extend(
        f"<CommonPrefixes>{_el('Prefix', encode(p))}</CommonPrefixes>" for p in page.prefixes
    )
    return parts


def list_objects(bucket: str, query: ListQuery, page: ListPage, encode: KeyEncoder) -> bytes:
    parts = [
        _el("Name", bucket),
        _el("Prefix", encode(query.prefix)),
        _el("Marker", encode(query.marker)),
        _el("MaxKeys", query.max_keys),
        _el("Delimiter", encode(query.delimiter)),
        encode.element(),
        _el("IsTruncated", _bool(page.truncated)),
    ]
    if page.truncated:
        parts.append(_el("NextMarker", encode(page.last)))
    return _document("ListBucketResult", parts + _listing_body(page, encode))


@dataclass(frozen=True)
class V2Echo:
    """The request values a ListObjectsV2 answer repeats."""

    continuation_token: str
    start_after: str
    next_token: str


def list_objects_v2(
    bucket: str, query: ListQuery, page: ListPage, encode: KeyEncoder, echo: V2Echo
) -> bytes:
    parts = [
        _el("Name", bucket),
        _el("Prefix", encode(query.prefix)),
        _el("MaxKeys", query.max_keys),
        _el("Delimiter", encode(query.delimiter)),
        encode.element(),
        _el("IsTruncated", _bool(page.truncated)),
        _el("KeyCount", len(page.objects) + len(page.prefixes)),
    ]
    if echo.start_after:
        parts.append(_el("StartAfter", encode(echo.start_after)))
    if echo.continuation_token:
        parts.append(_el("ContinuationToken", echo.continuation_token))
    if page.truncated:
        parts.append(_el("NextContinuationToken", echo.next_token))
    return _document("ListBucketResult", parts + _listing_body(page, encode))


@dataclass(frozen=True)
class BucketEntry:
    name: str
    created: float


def _endpoints(endpoint: str) -> str:
    return _el("ExtranetEndpoint", endpoint) + _el("IntranetEndpoint", endpoint)


def list_buckets(
    buckets: Sequence[BucketEntry],
    *,
    prefix: str,
    marker: str,
    max_keys: int,
    truncated: bool,
    location: str,
    endpoint: str,
) -> bytes:
    parts = [_owner()]
    if prefix or marker or truncated:
        parts += [_el("Prefix", prefix), _el("Marker", marker), _el("MaxKeys", max_keys)]
        parts.append(_el("IsTruncated", _bool(truncated)))
        if truncated:
            parts.append(_el("NextMarker", buckets[-1].name))
    parts.append("<Buckets>")
    for bucket in buckets:
        parts.append(
            "<Bucket>"
            + _el("CreationDate", iso8601(bucket.created))
            + _endpoints(endpoint)
            + _el("Location", location)
            + _el("Name", bucket.name)
            + _el("Region", location.removeprefix("oss-"))
            + _el("StorageClass", STORAGE_CLASS)
            + "</Bucket>"
        )
    parts.append("</Buckets>")
    return _document("ListAllMyBucketsResult", parts)


def bucket_info(bucket: BucketEntry, *, location: str, endpoint: str) -> bytes:
    inner = (
        _el("AccessMonitor", "Disabled")
        + _el("CreationDate", iso8601(bucket.created))
        + _el("CrossRegionReplication", "Disabled")
        + _el("DataRedundancyType", "LRS")
        + _endpoints(endpoint)
        + _el("Location", location)
        + _el("Name", bucket.name)
        + _el("StorageClass", STORAGE_CLASS)
        + _el("TransferAcceleration", "Disabled")
        + _owner()
        + "<AccessControlList>"
        + _el("Grant", "private")
        + "</AccessControlList>"
        + _el("Comment", "local OSS root")
    )
    return _document("BucketInfo", [f"<Bucket>{inner}</Bucket>"])


def bucket_location(location: str) -> bytes:
    return (XML_HEAD + _el("LocationConstraint", location)).encode()


def initiate_multipart(bucket: str, key: str, upload_id: str, encode: KeyEncoder) -> bytes:
    parts = [_el("Bucket", bucket), _el("Key", encode(key)), _el("UploadId", upload_id)]
    return _document("InitiateMultipartUploadResult", [*parts, encode.element()])


def complete_multipart(
    bucket: str, key: str, etag: str, location: str, encode: KeyEncoder
) -> bytes:
    parts = [
        encode.element(),
        _el("Location", location),
        _el("Bucket", bucket),
        _el("Key", encode(key)),
        _el("ETag", f'"{etag}"'),
    ]
    return _document("CompleteMultipartUploadResult", parts)


@dataclass(frozen=True)
class PartEntry:
    number: int
    etag: str
    size: int
    mtime: float


def list_parts(
    bucket: str,
    key: str,
    upload_id: str,
    parts: Sequence[PartEntry],
    *,
    marker: int,
    max_parts: int,
    truncated: bool,
    encode: KeyEncoder,
) -> bytes:
    body = [
        _el("Bucket", bucket),
        _el("Key", encode(key)),
        _el("UploadId", upload_id),
        _el("PartNumberMarker", marker),
        _el("NextPartNumberMarker", parts[-1].number if parts else marker),
        _el("MaxParts", max_parts),
        _el("IsTruncated", _bool(truncated)),
        encode.element(),
    ]
    for part in parts:
        body.append(
            "<Part>"
            + _el("PartNumber", part.number)
            + _el("LastModified", iso8601(part.mtime))
            + _el("ETag", f'"{part.etag}"')
            + _el("Size", part.size)
            + "</Part>"
        )
    return _document("ListPartsResult", body)


@dataclass(frozen=True)
class UploadEntry:
    key: str
    upload_id: str
    initiated: float


def list_multipart_uploads(
    bucket: str, uploads: Sequence[UploadEntry], *, prefix: str, truncated: bool, encode: KeyEncoder
) -> bytes:
    last = uploads[-1] if uploads and truncated else None
    body = [
        _el("Bucket", bucket),
        _el("KeyMarker", ""),
        _el("UploadIdMarker", ""),
        _el("NextKeyMarker", encode(last.key) if last else ""),
        _el("NextUploadIdMarker", last.upload_id if last else ""),
        _el("Delimiter", ""),
        _el("Prefix", encode(prefix)),
        _el("MaxUploads", 1000),
        _el("IsTruncated", _bool(truncated)),
        encode.element(),
    ]
    for upload in uploads:
        body.append(
            "<Upload>"
            + _el("Key", encode(upload.key))
            + _el("UploadId", upload.upload_id)
            + _el("Initiated", iso8601(upload.initiated))
            + "</Upload>"
        )
    return _document("ListMultipartUploadsResult", body)


def copy_result(root: str, etag: str, mtime: float) -> bytes:
    return _document(root, [_el("ETag", f'"{etag}"'), _el("LastModified", iso8601(mtime))])


def delete_result(keys: Sequence[str], encode: KeyEncoder) -> bytes:
    deleted = [f"<Deleted>{_el('Key', encode(key))}</Deleted>" for key in keys]
    return _document("DeleteResult", [encode.element(), *deleted])


# Request documents --------------------------------------------------------------------------


def _parse(body: bytes) -> ElementTree.Element:
    if len(body) > MAX_REQUEST_XML or b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise OssError("MalformedXML")
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise OssError(
            "MalformedXML", f"The XML you provided was not well-formed: {exc}."
        ) from None


def parse_delete(body: bytes) -> tuple[list[str], bool]:
    """Keys and the quiet flag of a DeleteMultipleObjects request."""
    root = _parse(body)
    if root.tag != "Delete":
        raise OssError("MalformedXML", "The root element must be <Delete>.")
    keys = [node.text or "" for node in root.findall("Object/Key")]
    if not keys or len(keys) > 1000:
        raise OssError("MalformedXML", "A <Delete> request must name 1 to 1000 objects.")
    quiet = (root.findtext("Quiet") or "false").strip().lower() == "true"
    return keys, quiet


def parse_complete(body: bytes) -> list[tuple[int, str]]:
    """(part number, ETag without quotes) pairs of a CompleteMultipartUpload request."""
    root = _parse(body)
    if root.tag != "CompleteMultipartUpload":
        raise OssError("MalformedXML", "The root element must be <CompleteMultipartUpload>.")
    parts = []
    for node in root.findall("Part"):
        number = (node.findtext("PartNumber") or "").strip()
        if not number.isdigit():
            raise OssError("MalformedXML", f"Invalid PartNumber {number!r}.")
        parts.append((int(number), (node.findtext("ETag") or "").strip().strip('"').upper()))
    return parts
