"""Object operations: Put, Get (with Range), Head, GetObjectMeta, Delete, Copy, Append."""

from __future__ import annotations

import asyncio
import os
from email.utils import formatdate
from urllib.parse import unquote

from aiohttp import web

from localbatch.ossendpoint import appending, xmlbody
from localbatch.ossendpoint.conditions import check_preconditions, parse_range
from localbatch.ossendpoint.context import RequestContext
from localbatch.ossendpoint.errors import OssError
from localbatch.ossendpoint.http_io import receive_checked_body, send_file
from localbatch.ossendpoint.metadata import ObjectMeta
from localbatch.ossendpoint.naming import check_bucket_name, check_key
from localbatch.ossendpoint.store import ObjectInfo
from localbatch.ossendpoint.writer import AtomicWriter

#: Query parameters that override response headers of a GetObject.
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


def http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


def object_headers(info: ObjectInfo) -> dict[str, str]:
    """The headers GetObject and HeadObject answer for an object."""
    headers = {
        "Content-Type": info.meta.content_type,
        "ETag": f'"{info.meta.etag}"',
        "Last-Modified": http_date(info.mtime),
        "Accept-Ranges": "bytes",
        "x-oss-object-type": info.meta.object_type,
        "x-oss-storage-class": "Standard",
        **info.meta.headers,
        **info.meta.user_meta,
    }
    if info.meta.object_type == appending.APPENDABLE:
        headers["x-oss-next-append-position"] = str(info.size)
    return headers


def _forbid_overwrite(ctx: RequestContext) -> bool:
    return ctx.header("x-oss-forbid-overwrite").lower() == "true"


def _written_headers(info: ObjectInfo) -> dict[str, str]:
    return {"ETag": f'"{info.meta.etag}"'}


def check_target(ctx: RequestContext) -> None:
    """Refuse a write to a bad bucket name or key before its body is received."""
    check_bucket_name(ctx.bucket)
    check_key(ctx.key)


async def put_object(ctx: RequestContext) -> web.StreamResponse:
    check_target(ctx)
    writer: AtomicWriter = await ctx.run(ctx.store.new_writer)
    await receive_checked_body(ctx, writer)
    meta = ctx.meta_from_headers(etag=writer.etag)
    info = await ctx.run(
        lambda: ctx.store.publish(
            ctx.bucket, ctx.key, writer, meta, forbid_overwrite=_forbid_overwrite(ctx)
        )
    )
    return web.Response(status=200, headers=_written_headers(info))


async def get_object(ctx: RequestContext) -> web.StreamResponse:
    info, fd = await ctx.run(ctx.store.open, ctx.bucket, ctx.key)
    try:
        return await _send_object(ctx, info, fd)
    finally:
        os.close(fd)


async def _send_object(ctx: RequestContext, info: ObjectInfo, fd: int) -> web.StreamResponse:
    """The answer to a GET: headers of exactly the version open at `fd`, then its bytes."""
    headers = object_headers(info)
    if not check_preconditions(ctx.request.headers, info.meta.etag, info.mtime):
        return web.Response(status=304, headers={"ETag": headers["ETag"]})
    standard = ctx.header("x-oss-range-behavior").lower() == "standard"
    byte_range = parse_range(ctx.request.headers.get("Range"), info.size, standard=standard)
    for parameter, header in RESPONSE_OVERRIDES.items():
        if parameter in ctx.query:
            headers[header] = ctx.query[parameter]
    status, offset, length = 200, 0, info.size
    if byte_range is not None:
        first, last = byte_range
        status, offset, length = 206, first, last - first + 1
        headers["Content-Range"] = f"bytes {first}-{last}/{info.size}"
    response = web.StreamResponse(status=status, headers={**headers, **ctx.base_headers()})
    response.content_length = length
    ctx.response = response
    await response.prepare(ctx.request)
    if ctx.request.method != "HEAD" and length:
        await send_file(response, fd, offset, length)
    await response.write_eof()
    return response


async def head_object(ctx: RequestContext) -> web.StreamResponse:
    info = await ctx.run(ctx.store.stat, ctx.bucket, ctx.key)
    headers = object_headers(info)
    if not check_preconditions(ctx.request.headers, info.meta.etag, info.mtime):
        return web.Response(status=304, headers={"ETag": headers["ETag"]})
    headers["Content-Length"] = str(info.size)
    return web.Response(status=200, headers=headers)


async def get_object_meta(ctx: RequestContext) -> web.StreamResponse:
    """`?objectMeta`: the short form of HeadObject (size, ETag, Last-Modified)."""
    info = await ctx.run(ctx.store.stat, ctx.bucket, ctx.key)
    headers = {
        "Content-Length": str(info.size),
        "ETag": f'"{info.meta.etag}"',
        "Last-Modified": http_date(info.mtime),
    }
    return web.Response(status=200, headers=headers)


async def delete_object(ctx: RequestContext) -> web.StreamResponse:
    await ctx.run(ctx.store.delete, ctx.bucket, ctx.key)
    return web.Response(status=204)


def copy_source(ctx: RequestContext) -> tuple[str, str]:
    raw = ctx.header("x-oss-copy-source")
    path = unquote(raw.partition("?")[0]).lstrip("/")
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise OssError(
            "InvalidArgument", f"Invalid x-oss-copy-source {raw!r}; expected /bucket/key."
        )
    return bucket, key


async def copy_object(ctx: RequestContext) -> web.StreamResponse:
    check_target(ctx)
    source_bucket, source_key = copy_source(ctx)
    directive = ctx.header("x-oss-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise OssError("InvalidArgument", f"Invalid x-oss-metadata-directive {directive!r}.")

    def copy() -> ObjectInfo:
        source, fd = ctx.store.open(source_bucket, source_key)
        writer = ctx.store.new_writer()
        try:
            check_preconditions(
                ctx.request.headers, source.meta.etag, source.mtime, prefix="x-oss-copy-source-"
            )
            writer.copy_range(fd, 0, source.size)
        except BaseException:
            writer.discard()
            raise
        finally:
            os.close(fd)
        kept = source.meta if directive == "COPY" else ctx.meta_from_headers()
        meta = ObjectMeta(
            etag=writer.etag,
            content_type=kept.content_type,
            user_meta=kept.user_meta,
            headers=kept.headers,
        )
        return ctx.store.publish(
            ctx.bucket, ctx.key, writer, meta, forbid_overwrite=_forbid_overwrite(ctx)
        )

    info = await ctx.run(copy)
    body = xmlbody.copy_result("CopyObjectResult", info.meta.etag, info.mtime)
    return web.Response(
        status=200, body=body, content_type="application/xml", headers=_written_headers(info)
    )


async def append_object(ctx: RequestContext) -> web.StreamResponse:
    check_target(ctx)
    text = ctx.query.get("position", "")
    if not text.isdigit():
        raise OssError(
            "InvalidArgument",
            f"AppendObject needs position=N (a non-negative integer), not {text!r}.",
        )
    # Appends to one key are serialised: each must see the length the previous one left.
    lock = ctx.state.append_locks.setdefault((ctx.bucket, ctx.key), asyncio.Lock())
    async with lock:
        existing, sink = await ctx.run(
            appending.prepare_append, ctx.store, ctx.bucket, ctx.key, int(text)
        )
        await receive_checked_body(ctx, sink)
        meta = ctx.meta_from_headers()
        info = await ctx.run(
            appending.finish_append, ctx.store, ctx.bucket, ctx.key, existing, sink, meta
        )
    headers = {**_written_headers(info), "x-oss-next-append-position": str(info.size)}
    return web.Response(status=200, headers=headers)
