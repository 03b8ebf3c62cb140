"""Which OSS operation a request is: method, bucket/key presence and sub-resources."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from localbatch.ossendpoint import buckets, objects, uploads
from localbatch.ossendpoint.context import RequestContext
from localbatch.ossendpoint.errors import OssError
from localbatch.ossendpoint.signature import SUBRESOURCES

Handler = Callable[[RequestContext], Awaitable[web.StreamResponse]]

#: Sub-resources each route understands; others are refused as NotImplemented, not ignored.
_RESPONSE_PARAMS = frozenset(objects.RESPONSE_OVERRIDES)
_HANDLED = (
    frozenset(
        {
            "bucketInfo",
            "location",
            "uploads",
            "uploadId",
            "partNumber",
            "delete",
            "objectMeta",
            "append",
            "position",
            "security-token",
            "continuation-token",
        }
    )
    | _RESPONSE_PARAMS
)


def _unsupported(query: dict[str, str]) -> list[str]:
    return sorted(name for name in query if name in SUBRESOURCES and name not in _HANDLED)


def _service_route(method: str) -> Handler | None:
    return buckets.list_buckets if method == "GET" else None


def _bucket_route(method: str, query: dict[str, str]) -> Handler | None:
    if method == "GET":
        if "bucketInfo" in query:
            return buckets.get_bucket_info
        if "location" in query:
            return buckets.get_bucket_location
        if "uploads" in query:
            return uploads.list_uploads
        if query.get("list-type") == "2":
            return buckets.list_objects_v2
        return buckets.list_objects
    if method == "POST" and "delete" in query:
        return buckets.delete_multiple_objects
    routes: dict[str, Handler] = {
        "PUT": buckets.put_bucket,
        "DELETE": buckets.delete_bucket,
        "HEAD": buckets.head_bucket,
    }
    return routes.get(method)


def _object_route(method: str, query: dict[str, str], copy: bool) -> Handler | None:
    if "uploadId" in query:
        routes = {
            "PUT": uploads.upload_part,
            "POST": uploads.complete,
            "DELETE": uploads.abort,
            "GET": uploads.list_parts,
        }
        return routes.get(method)
    if method == "POST":
        if "uploads" in query:
            return uploads.initiate
        if "append" in query:
            return objects.append_object
        return None
    if "objectMeta" in query and method == "HEAD":  # GetObjectMeta is a HEAD (a GET reads)
        return objects.get_object_meta
    if method == "PUT":
        return objects.copy_object if copy else objects.put_object
    other: dict[str, Handler] = {
        "GET": objects.get_object,
        "HEAD": objects.head_object,
        "DELETE": objects.delete_object,
    }
    return other.get(method)


def route(ctx: RequestContext) -> Handler:
    """The handler for this request, or the service's error for what it cannot do."""
    method, query = ctx.request.method, ctx.query
    unsupported = _unsupported(query)
    if unsupported:
        raise OssError(
            "NotImplemented",
            "The local OSS endpoint does not implement the sub-resource(s) "
            + ", ".join(unsupported)
            + ".",
        )
    if not ctx.bucket:
        handler = _service_route(method)
    elif not ctx.key:
        handler = _bucket_route(method, query)
    else:
        handler = _object_route(method, query, bool(ctx.request.headers.get("x-oss-copy-source")))
    if handler is None:
        raise OssError("MethodNotAllowed", extra={"Method": method, "ResourceType": _resource(ctx)})
    return handler


def _resource(ctx: RequestContext) -> str:
    return "Object" if ctx.key else "Bucket" if ctx.bucket else "Service"
