"""Service and bucket operations: ListBuckets, GetBucketInfo/Location, ListObjects (v1, v2),
PutBucket, DeleteBucket, DeleteMultipleObjects."""

from __future__ import annotations

import base64
import binascii
import hashlib

from aiohttp import web

from localbatch.ossendpoint import xmlbody
from localbatch.ossendpoint.context import RequestContext
from localbatch.ossendpoint.errors import OssError
from localbatch.ossendpoint.listing import ListQuery, list_page
from localbatch.ossendpoint.naming import check_bucket_name

#: OSS's default and largest page sizes.
DEFAULT_MAX_KEYS = 100
MAX_KEYS_LIMIT = 1000


def _xml(body: bytes) -> web.Response:
    return web.Response(status=200, body=body, content_type="application/xml")


def _max_keys(ctx: RequestContext, name: str = "max-keys") -> int:
    text = ctx.query.get(name, "")
    if not text:
        return DEFAULT_MAX_KEYS
    if not text.isdigit() or not 0 < int(text) <= MAX_KEYS_LIMIT:
        raise OssError(
            "InvalidArgument",
            f"{name} must be an integer from 1 to {MAX_KEYS_LIMIT}, not {text!r}.",
        )
    return int(text)


def _endpoint(ctx: RequestContext) -> str:
    return ctx.state.public_host or ctx.target.host


async def list_buckets(ctx: RequestContext) -> web.StreamResponse:
    prefix = ctx.query.get("prefix", "")
    marker = ctx.query.get("marker", "")
    max_keys = _max_keys(ctx)
    found = await ctx.run(ctx.store.buckets)
    chosen = [
        xmlbody.BucketEntry(name, created)
        for name, created in found
        if name.startswith(prefix) and name > marker
    ]
    truncated = len(chosen) > max_keys
    body = xmlbody.list_buckets(
        chosen[:max_keys],
        prefix=prefix,
        marker=marker,
        max_keys=max_keys,
        truncated=truncated,
        location=ctx.state.location,
        endpoint=_endpoint(ctx),
    )
    return _xml(body)


async def _bucket_entry(ctx: RequestContext) -> xmlbody.BucketEntry:
    directory = await ctx.run(ctx.store.require_bucket, ctx.bucket)
    return xmlbody.BucketEntry(ctx.bucket, directory.stat().st_ctime)


async def get_bucket_info(ctx: RequestContext) -> web.StreamResponse:
    entry = await _bucket_entry(ctx)
    return _xml(xmlbody.bucket_info(entry, location=ctx.state.location, endpoint=_endpoint(ctx)))


async def get_bucket_location(ctx: RequestContext) -> web.StreamResponse:
    await _bucket_entry(ctx)
    return _xml(xmlbody.bucket_location(ctx.state.location))


async def head_bucket(ctx: RequestContext) -> web.StreamResponse:
    await _bucket_entry(ctx)
    return web.Response(status=200)


async def put_bucket(ctx: RequestContext) -> web.StreamResponse:
    check_bucket_name(ctx.bucket)
    await ctx.run(ctx.store.ensure_bucket, ctx.bucket)
    return web.Response(status=200, headers={"Location": f"/{ctx.bucket}"})


async def delete_bucket(ctx: RequestContext) -> web.StreamResponse:
    await ctx.run(ctx.store.delete_bucket, ctx.bucket)
    return web.Response(status=204)


async def list_objects(ctx: RequestContext) -> web.StreamResponse:
    encode = xmlbody.KeyEncoder(ctx.query.get("encoding-type", ""))
    query = ListQuery(
        prefix=ctx.query.get("prefix", ""),
        delimiter=ctx.query.get("delimiter", ""),
        marker=ctx.query.get("marker", ""),
        max_keys=_max_keys(ctx),
    )
    page = await ctx.run(list_page, ctx.store, ctx.bucket, query)
    return _xml(xmlbody.list_objects(ctx.bucket, query, page, encode))


def encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise OssError("InvalidArgument", f"Invalid continuation-token {token!r}.") from None


async def list_objects_v2(ctx: RequestContext) -> web.StreamResponse:
    encode = xmlbody.KeyEncoder(ctx.query.get("encoding-type", ""))
    token = ctx.query.get("continuation-token", "")
    start_after = ctx.query.get("start-after", "")
    marker = max(start_after, decode_token(token) if token else "")
    query = ListQuery(
        prefix=ctx.query.get("prefix", ""),
        delimiter=ctx.query.get("delimiter", ""),
        marker=marker,
        max_keys=_max_keys(ctx),
    )
    page = await ctx.run(list_page, ctx.store, ctx.bucket, query)
    echo = xmlbody.V2Echo(
        continuation_token=token, start_after=start_after, next_token=encode_token(page.last)
    )
    return _xml(xmlbody.list_objects_v2(ctx.bucket, query, page, encode, echo))


async def delete_multiple_objects(ctx: RequestContext) -> web.StreamResponse:
    body = await ctx.request.content.read(xmlbody.MAX_REQUEST_XML + 1)
    md5_header = ctx.request.headers.get("Content-MD5")
    if (
        md5_header is not None
        and md5_header != base64.b64encode(hashlib.md5(body).digest()).decode()
    ):
        raise OssError("InvalidDigest")
    keys, quiet = xmlbody.parse_delete(body)
    encode = xmlbody.KeyEncoder(ctx.query.get("encoding-type", ""))
    await ctx.run(ctx.store.require_bucket, ctx.bucket)
    deleted = []
    for key in keys:
        await ctx.run(ctx.store.delete, ctx.bucket, key)
        deleted.append(key)
    return _xml(xmlbody.delete_result([] if quiet else deleted, encode))
