"""One request's life: request id, address, signature, route, and OSS-style errors."""

from __future__ import annotations

import errno
import logging
import uuid

from aiohttp import web

from localbatch.beneath import Escape
from localbatch.ossendpoint.addressing import parse_target
from localbatch.ossendpoint.context import EndpointState, RequestContext
from localbatch.ossendpoint.errors import OssError, error_headers, error_xml
from localbatch.ossendpoint.routing import route
from localbatch.ossendpoint.signature import SignedRequest, Verifier

log = logging.getLogger("localbatch.ossendpoint")


def new_oss_request_id() -> str:
    """24 upper-case hex digits, the shape of the service's request ids."""
    return uuid.uuid4().hex[:24].upper()


#: Request headers OSS honours and this endpoint cannot: accepted, and reported once each.
UNHONOURED_HEADERS = (
    "x-oss-object-acl",
    "x-oss-storage-class",
    "x-oss-server-side-encryption",
    "x-oss-server-side-encryption-key-id",
    "x-oss-tagging",
    "x-oss-traffic-limit",
    "x-oss-callback",
)


class UnhonouredHeaders:
    """Logs each header the endpoint ignores, once per endpoint, so the gap is visible."""

    def __init__(self) -> None:
        self.reported: set[str] = set()

    def check(self, request: web.BaseRequest) -> None:
        for name in UNHONOURED_HEADERS:
            if name in request.headers and name not in self.reported:
                self.reported.add(name)
                log.warning(
                    "OSS endpoint: header %s (%s) is not honoured locally and is ignored",
                    name,
                    request.headers[name],
                )


def check_headers(request: web.BaseRequest) -> None:
    """Refuse header values that are not valid UTF-8 (aiohttp keeps such bytes as lone
    surrogates, which no file, log or answer can hold)."""
    for name, value in request.headers.items():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise OssError(
                "InvalidArgument",
                f"The value of header {name.encode('ascii', 'replace').decode()} is not valid "
                "UTF-8.",
            ) from None


def translated(exc: Exception) -> OssError | None:
    """The OSS error a file-system failure stands for, when it is the request's fault."""
    if isinstance(exc, Escape):
        return OssError(
            "AccessDenied",
            "The key leads outside its bucket through a symbolic link in the local OSS root.",
        )
    if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
        return OssError("InvalidObjectName", "The key is too long for the local file system.")
    if isinstance(exc, PermissionError):
        return OssError("AccessDenied", f"The local OSS root refused access: {exc.strerror}.")
    return None


async def _continue_if_expected(request: web.BaseRequest) -> None:
    """Answer `Expect: 100-continue` once the request is known to be acceptable, so clients
    that wait for it (curl, Java SDKs) send their body at once."""
    if request.headers.get("Expect", "").lower() == "100-continue" and request.version >= (1, 1):
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")


class OssApplication:
    """The low-level aiohttp handler: every request comes here, routed by its OSS meaning."""

    def __init__(self, state: EndpointState, verifier: Verifier) -> None:
        self.state = state
        self.verifier = verifier
        self.unhonoured = UnhonouredHeaders()

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        request_id = new_oss_request_id()
        target = parse_target(request.raw_path, request.headers.get("Host", ""))
        ctx = RequestContext(
            request=request, target=target, state=self.state, request_id=request_id
        )
        try:
            check_headers(request)
            signed = SignedRequest(
                request.method, request.headers, target.bucket, target.key, target.query
            )
            self.verifier.verify(signed)
            handler = route(ctx)
            self.unhonoured.check(request)
            await _continue_if_expected(request)
            response = await handler(ctx)
        except OssError as error:
            response = self._error(ctx, error)
        except ConnectionError as exc:  # the client hung up: nobody to answer, nothing wrong
            log.debug("OSS request %s %r: client gone (%s)", request.method, request.raw_path, exc)
            return ctx.response or web.Response(status=400)
        except web.HTTPException:
            raise
        except Exception as exc:
            known = translated(exc)
            if known is None:
                log.exception("OSS request %s %r failed", request.method, request.raw_path)
                detail = f"Local file system error: {exc}" if isinstance(exc, OSError) else ""
                known = OssError("InternalError", detail)
            response = self._error(ctx, known)
        if not response.prepared:
            response.headers.update(ctx.base_headers())
        return response

    def _error(self, ctx: RequestContext, error: OssError) -> web.StreamResponse:
        if error.status >= 500:
            log.warning("OSS request %s: %s %s", ctx.request_id, error.code, error.message)
        body = error_xml(error, ctx.request_id, ctx.target.host)
        head = ctx.request.method == "HEAD"
        headers = error_headers(error, body, head_request=head)
        return web.Response(status=error.status, body=None if head else body, headers=headers)
