"""What every operation handler receives: the request, its target, the stores, a thread hop."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from aiohttp import web

from localbatch.ossendpoint.addressing import Target
from localbatch.ossendpoint.metadata import STORED_HEADERS, ObjectMeta, guessed_content_type
from localbatch.ossendpoint.multipart import UploadStore
from localbatch.ossendpoint.store import ObjectStore

T = TypeVar("T")

#: Region reported by GetBucketInfo / ListBuckets (`oss-` + the region id).
DEFAULT_LOCATION = "oss-cn-local"


@dataclass
class EndpointState:
    """Shared by all requests of one endpoint."""

    store: ObjectStore
    uploads: UploadStore
    location: str = DEFAULT_LOCATION
    #: host:port clients reach the endpoint at (reported as the bucket's endpoints).
    public_host: str = ""
    append_locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)


@dataclass
class RequestContext:
    request: web.BaseRequest
    target: Target
    state: EndpointState
    request_id: str
    #: A response a handler has begun to stream (its headers are sent).
    response: web.StreamResponse | None = None

    @property
    def store(self) -> ObjectStore:
        return self.state.store

    @property
    def uploads(self) -> UploadStore:
        return self.state.uploads

    @property
    def bucket(self) -> str:
        return self.target.bucket

    @property
    def key(self) -> str:
        return self.target.key

    @property
    def query(self) -> dict[str, str]:
        return self.target.query

    def base_headers(self) -> dict[str, str]:
        """Headers of every answer (set by the app, or by a handler that streams its own)."""
        return {"x-oss-request-id": self.request_id, "Server": "AliyunOSS"}

    def header(self, name: str, default: str = "") -> str:
        return self.request.headers.get(name, default)

    async def run(self, func: Callable[..., T], *args: object) -> T:
        """Run blocking file-system work in the endpoint's worker threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(func, *args))

    def meta_from_headers(self, etag: str = "", object_type: str = "Normal") -> ObjectMeta:
        """The attributes a write request sets: content type, x-oss-meta-*, stored headers."""
        headers = self.request.headers
        user_meta = {
            name.lower(): value
            for name, value in headers.items()
            if name.lower().startswith("x-oss-meta-")
        }
        stored = {name: headers[name] for name in STORED_HEADERS if name in headers}
        return ObjectMeta(
            etag=etag,
            content_type=headers.get("Content-Type") or guessed_content_type(self.key),
            object_type=object_type,
            user_meta=user_meta,
            headers=stored,
        )
