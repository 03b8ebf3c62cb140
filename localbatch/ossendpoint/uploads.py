"""Multipart upload operations: initiate, upload part (and part copy), complete, abort, list."""

from __future__ import annotations

import os

from aiohttp import web

from localbatch.ossendpoint import xmlbody
from localbatch.ossendpoint.conditions import parse_range
from localbatch.ossendpoint.context import RequestContext
from localbatch.ossendpoint.errors import OssError
from localbatch.ossendpoint.http_io import receive_checked_body
from localbatch.ossendpoint.metadata import ObjectMeta
from localbatch.ossendpoint.objects import check_target, copy_source
from localbatch.ossendpoint.store import ObjectInfo
from localbatch.ossendpoint.writer import AtomicWriter

MAX_PARTS_LISTED = 1000


def _xml(body: bytes) -> web.Response:
    return web.Response(status=200, body=body, content_type="application/xml")


def _part_number(ctx: RequestContext) -> int:
    text = ctx.query.get("partNumber", "")
    if not text.isdigit():
        raise OssError("InvalidArgument", f"partNumber must be an integer, not {text!r}.")
    return int(text)


async def initiate(ctx: RequestContext) -> web.StreamResponse:
    check_target(ctx)
    await ctx.run(ctx.store.ensure_bucket, ctx.bucket)
    upload_id = await ctx.run(ctx.uploads.create, ctx.bucket, ctx.key, ctx.meta_from_headers())
    encode = xmlbody.KeyEncoder(ctx.query.get("encoding-type", ""))
    return _xml(xmlbody.initiate_multipart(ctx.bucket, ctx.key, upload_id, encode))


async def upload_part(ctx: RequestContext) -> web.StreamResponse:
    upload_id = ctx.query["uploadId"]
    number = _part_number(ctx)
    await ctx.run(ctx.uploads.record, upload_id, ctx.bucket, ctx.key)
    writer = await ctx.run(ctx.uploads.part_writer, upload_id)
    if ctx.header("x-oss-copy-source"):
        return await _upload_part_copy(ctx, upload_id, number, writer)
    await receive_checked_body(ctx, writer)
    part = await ctx.run(ctx.uploads.save_part, upload_id, number, writer)
    return web.Response(status=200, headers={"ETag": f'"{part.etag}"'})


async def _upload_part_copy(
    ctx: RequestContext, upload_id: str, number: int, writer: AtomicWriter
) -> web.StreamResponse:
    source_bucket, source_key = copy_source(ctx)
    try:
        source, fd = await ctx.run(ctx.store.open, source_bucket, source_key)
        try:
            byte_range = parse_range(
                ctx.header("x-oss-copy-source-range") or None, source.size, standard=True
            )
            first, last = byte_range if byte_range else (0, source.size - 1)
            await ctx.run(writer.copy_range, fd, first, last - first + 1)
        finally:
            os.close(fd)
    except BaseException:
        await ctx.run(writer.discard)
        raise
    part = await ctx.run(ctx.uploads.save_part, upload_id, number, writer)
    response = _xml(xmlbody.copy_result("CopyPartResult", part.etag, part.mtime))
    response.headers["ETag"] = f'"{part.etag}"'
    return response


async def complete(ctx: RequestContext) -> web.StreamResponse:
    upload_id = ctx.query["uploadId"]
    body = await ctx.request.content.read(xmlbody.MAX_REQUEST_XML + 1)
    meta = await ctx.run(ctx.uploads.meta, upload_id, ctx.bucket, ctx.key)
    if ctx.header("x-oss-complete-all").lower() == "yes":
        chosen = [(part.number, part.etag) for part in await ctx.run(ctx.uploads.parts, upload_id)]
    else:
        chosen = xmlbody.parse_complete(body)

    def assemble() -> ObjectInfo:
        with ctx.uploads.claim(upload_id) as parts_dir:
            writer = ctx.store.new_writer()
            try:
                etag = ctx.uploads.assemble(parts_dir, chosen, writer)
            except BaseException:
                writer.discard()
                raise
            final = ObjectMeta(
                etag=etag,
                content_type=meta.content_type,
                object_type="Multipart",
                user_meta=meta.user_meta,
                headers=meta.headers,
            )
            return ctx.store.publish(ctx.bucket, ctx.key, writer, final)

    info = await ctx.run(assemble)
    encode = xmlbody.KeyEncoder(ctx.query.get("encoding-type", ""))
    location = f"http://{ctx.target.host}/{ctx.bucket}/{ctx.key}"
    body = xmlbody.complete_multipart(ctx.bucket, ctx.key, info.meta.etag, location, encode)
    return web.Response(
        status=200,
        body=body,
        content_type="application/xml",
        headers={"ETag": f'"{info.meta.etag}"'},
    )


async def abort(ctx: RequestContext) -> web.StreamResponse:
    await ctx.run(ctx.uploads.abort, ctx.query["uploadId"], ctx.bucket, ctx.key)
    return web.Response(status=204)


async def list_parts(ctx: RequestContext) -> web.StreamResponse:
    upload_id = ctx.query["uploadId"]
    await ctx.run(ctx.uploads.record, upload_id, ctx.bucket, ctx.key)
    marker_text = ctx.query.get("part-number-marker", "") or "0"
    max_text = ctx.query.get("max-parts", "") or str(MAX_PARTS_LISTED)
    if (
        not marker_text.isdigit()
        or not max_text.isdigit()
        or not 0 < int(max_text) <= MAX_PARTS_LISTED
    ):
        raise OssError(
            "InvalidArgument",
            "part-number-marker and max-parts must be integers (max-parts 1-1000).",
        )
    marker, max_parts = int(marker_text), int(max_text)
    after = [part for part in await ctx.run(ctx.uploads.parts, upload_id) if part.number > marker]
    encode = xmlbody.KeyEncoder(ctx.query.get("encoding-type", ""))
    body = xmlbody.list_parts(
        ctx.bucket,
        ctx.key,
        upload_id,
        after[:max_parts],
        marker=marker,
        max_parts=max_parts,
        truncated=len(after) > max_parts,
        encode=encode,
    )
    return _xml(body)


async def list_uploads(ctx: RequestContext) -> web.StreamResponse:
    await ctx.run(ctx.store.require_bucket, ctx.bucket)
    prefix = ctx.query.get("prefix", "")
    found = await ctx.run(ctx.uploads.uploads, ctx.bucket, prefix)
    encode = xmlbody.KeyEncoder(ctx.query.get("encoding-type", ""))
    shown = found[:MAX_PARTS_LISTED]
    body = xmlbody.list_multipart_uploads(
        ctx.bucket, shown, prefix=prefix, truncated=len(found) > len(shown), encode=encode
    )
    return _xml(body)
