"""Moving object bytes between sockets and files in bounded chunks, never whole in memory."""

from __future__ import annotations

import asyncio
import os

from aiohttp import web

from localbatch.ossendpoint.context import RequestContext
from localbatch.ossendpoint.errors import OssError
from localbatch.ossendpoint.writer import HashedSink

#: Bytes collected from the socket before one hop to a worker thread to write them.
WRITE_BATCH = 1 << 20
#: Bytes read from a file per hop when sending.
READ_CHUNK = 1 << 20


async def receive_body(ctx: RequestContext, sink: HashedSink) -> None:
    """Stream the request body into `sink`; on any failure the sink is discarded.

    Writing (and hashing) one batch in a worker thread overlaps with receiving the next,
    so at most two batches are in memory and neither the socket nor the disk waits.
    """
    request = ctx.request
    pending: list[bytes] = []
    pending_size = 0
    writing: asyncio.Future[None] | None = None
    try:
        async for chunk in request.content.iter_chunked(WRITE_BATCH):
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= WRITE_BATCH:
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(ctx.run(sink.write, b"".join(pending)))
                pending, pending_size = [], 0
        if writing is not None:
            await writing
            writing = None
        if pending:
            await ctx.run(sink.write, b"".join(pending))
        expected = request.content_length
        if expected is not None and sink.size != expected:
            raise OssError("IncompleteBody", extra={"ContentLength": str(expected)})
    except BaseException:
        if writing is not None:
            await asyncio.wait([writing])  # the thread must be done with the file first
        sink.discard()  # quick (close, unlink), and must run even while shutting down
        raise


async def receive_checked_body(ctx: RequestContext, writer: HashedSink) -> None:
    """Stream the body into `writer`, then hold it to the request's Content-MD5, if any."""
    await receive_body(ctx, writer)
    try:
        writer.check_content_md5(ctx.request.headers.get("Content-MD5"))
    except OssError:
        writer.discard()
        raise


async def send_file(response: web.StreamResponse, fd: int, offset: int, length: int) -> None:
    """Write `length` bytes of the open file `fd` from `offset` to a prepared response."""
    loop = asyncio.get_running_loop()
    remaining = length
    while remaining > 0:
        size = min(remaining, READ_CHUNK)
        chunk = await loop.run_in_executor(None, os.pread, fd, size, offset)
        if not chunk:
            break  # the file shrank under us; the client sees a short body
        await response.write(chunk)
        offset += len(chunk)
        remaining -= len(chunk)
