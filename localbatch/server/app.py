"""The BatchCompute HTTP API as an aiohttp application (api-wire.md).

Routes are thin: read the request, one call into the `JobService` or the store, shape the
answer. The middleware owns what every response shares: the `x-acs-request-id` header, the
API version and signature checks, and errors as `{Code, Message}` bodies.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psutil
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from localbatch.application.job_service import JobService
from localbatch.ids import new_request_id
from localbatch.server import headers, replay, shapes
from localbatch.server.query import (
    bad_query,
    check_order,
    flag,
    idempotent_token,
    list_query,
    plain_number,
)
from localbatch.server.reports import PREFIX as REPORTS_PREFIX
from localbatch.server.reports import is_report_path, job_report
from localbatch.server.signature import API_VERSION, check_request
from localbatch.spec.errors import ApiError, internal_error, not_found
from localbatch.spec.load import parse_body
from localbatch.store.records import InstanceRecord
from localbatch.unwritable import StoreUnwritable

log = logging.getLogger(__name__)
#: One INFO line per answered request; `localbatch serve` shows them unless told not to.
request_log = logging.getLogger("localbatch.server.requests")

T = TypeVar("T")

SERVICE_KEY = web.AppKey("service", JobService)
#: Whether run reports are served to clients on other machines too (`server.reports`).
REPORTS_ANYWHERE_KEY = web.AppKey("reports_from_anywhere", bool)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(body: Any, status: int = 200) -> web.Response:
    """A JSON answer that can always be encoded: a lone surrogate in a text (there should
    be none) goes out as a JSON escape rather than failing the answer."""
    return web.Response(
        body=json.dumps(body, ensure_ascii=False).encode("utf-8", "backslashreplace"),
        status=status,
        content_type="application/json",
    )


def error_response(error: ApiError) -> web.Response:
    return json_response(error.to_body(), status=error.http_status)


#: The answer when even shaping an error failed: built once, so it cannot fail itself.
_INTERNAL_ERROR_BODY = json.dumps(internal_error().to_body()).encode()


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id on every answer; the header, version and signature checks; errors as
    service bodies; one INFO line per request. Whatever happens below, the API's answer is
    a JSON body. The run reports are no part of the API: neither signed nor shaped
    (`server.reports`)."""
    if is_report_path(request.path):
        return await handler(request)
    request_id = new_request_id()
    started = time.monotonic()
    error: ApiError | None = None
    try:
        response, error = await _answer(request, handler, request_id)
    except Exception:
        log.exception(
            "answering %s %s failed (request id %s)", request.method, request.path, request_id
        )
        response = web.Response(
            body=_INTERNAL_ERROR_BODY, status=500, content_type="application/json"
        )
    response.headers["x-acs-request-id"] = request_id
    if request_log.isEnabledFor(logging.INFO):
        request_log.info(
            "%s %s -> %d%s (%.1f ms, request id %s)",
            request.method,
            request.path_qs,
            response.status,
            f" {error.code}" if error else "",
            (time.monotonic() - started) * 1000,
            request_id,
        )
    return response


async def _answer(
    request: web.Request, handler: Handler, request_id: str
) -> tuple[web.StreamResponse, ApiError | None]:
    """The answer, and the error it carries (None for a success)."""
    try:
        header_error = headers.header_error(request.raw_headers)
        if header_error is not None:
            raise header_error
        _check_version(request)
        await _check_request(request)
        return await handler(request), None
    except ApiError as raised:
        error = raised
    except web.HTTPMethodNotAllowed:
        error = ApiError.from_catalogue(
            "MethodNotAllowed", Method=request.method, Path=request.path
        )
    except web.HTTPNotFound:
        error = ApiError.from_catalogue("InvalidUrlPattern", Path=request.path)
    except (web.HTTPRequestEntityTooLarge, RequestPayloadError):
        error = ApiError.from_catalogue("Invalid", Parameter="HttpBody")
    except StoreUnwritable as exc:
        log.warning("%s %s refused: %s", request.method, request.path, exc)
        if exc.full:
            error = ApiError.from_catalogue("StoreFull")
        else:
            error = ApiError.from_catalogue("StoreUnavailable", Reason=exc.cause)
    except ConnectionError:
        # The client hung up while its request was read: nobody reads this answer.
        log.info(
            "client hung up during %s %s (request id %s)", request.method, request.path, request_id
        )
        error = ApiError.from_catalogue("Invalid", Parameter="HttpBody")
    except Exception:
        log.exception(
            "request %s %s failed (request id %s)", request.method, request.path_qs, request_id
        )
        error = internal_error()
    return error_response(error), error


def _check_version(request: web.Request) -> None:
    version = request.headers.get("x-acs-version")
    if version is not None and version != API_VERSION:
        raise ApiError.from_catalogue("InvalidVersion.NotFound", Version=version)


async def _check_request(request: web.Request) -> None:
    """The signature (when credentials are set), the body digest, then the nonce: a
    request is recorded as seen only once it is otherwise acceptable."""
    service = request.app[SERVICE_KEY]
    config = service.config
    now = time.time()
    if config.api_access_key_id:
        error = check_request(
            request.method,
            request.headers,
            request.raw_path,
            access_key_id=config.api_access_key_id,
            access_key_secret=config.api_access_key_secret,
            now=now,
        )
        if error is not None:
            raise error
    digest = replay.digest_error(request.headers, await request.read())
    if digest is not None:
        raise digest
    if config.api_access_key_id:
        fresh = await _blocking(
            functools.partial(
                service.store.use_nonce,
                replay.nonce_key(config.api_access_key_id, request.headers),
                expires=replay.nonce_expiry(request.headers, now),
                now=now,
            )
        )
        if not fresh:
            raise replay.nonce_used()


def _service(request: web.Request) -> JobService:
    return request.app[SERVICE_KEY]


async def _blocking(func: Callable[[], T]) -> T:
    """Run a store write or an engine call off the event loop (they may wait on locks)."""
    return await asyncio.get_running_loop().run_in_executor(None, func)


# -- jobs -------------------------------------------------------------------------------


async def create_job(request: web.Request) -> web.Response:
    service = _service(request)
    token = idempotent_token(request.query)
    body = await _blocking(functools.partial(parse_body, await request.read()))
    job_id = await _blocking(functools.partial(service.create, body, token=token))
    return json_response({"Id": job_id}, status=201)


async def list_jobs(request: web.Request) -> web.Response:
    query = list_query(request.query)
    check_order(request.query)
    if request.query.get("ProjectId"):  # no local job belongs to a project
        return json_response({"Items": [], "NextMarker": ""})
    with query.marker_checked():
        page = _service(request).store.list_jobs(
            states=query.states,
            cluster_id=request.query.get("ClusterId", ""),
            marker=query.marker,
            max_items=query.max_items,
            oldest_first=flag(request.query, "IsReverse"),
        )
    return json_response(shapes.page(page, shapes.job))


async def get_job(request: web.Request) -> web.Response:
    service = _service(request)
    job_id = request.match_info["job_id"]
    if "description" in request.query:
        body = service.store.job_body(job_id)
        if body is None:
            raise not_found(job_id)
        body.setdefault("Notification", {})
        return json_response(body)
    return json_response(shapes.job(service.job(job_id)))


async def change_priority(request: web.Request) -> web.Response:
    body = await _blocking(functools.partial(parse_body, await request.read()))
    job_id = request.match_info["job_id"]
    await _blocking(functools.partial(_service(request).change_priority, job_id, body))
    return json_response({}, status=200)


async def delete_job(request: web.Request) -> web.Response:
    await _blocking(functools.partial(_service(request).delete, request.match_info["job_id"]))
    return web.Response(status=204)


async def job_action(request: web.Request) -> web.Response:
    service = _service(request)
    job_id, action = request.match_info["job_id"], request.match_info["action"]
    operation = {"stop": service.stop, "start": service.start}.get(action)
    if operation is None:
        raise ApiError.from_catalogue("InvalidUrlPattern", Path=request.path)
    await _blocking(functools.partial(operation, job_id))
    return json_response({}, status=201)


# -- tasks and instances ----------------------------------------------------------------


async def list_tasks(request: web.Request) -> web.Response:
    service = _service(request)
    job_id = request.match_info["job_id"]
    service.job(job_id)
    query = list_query(request.query)
    with query.marker_checked():
        page = service.store.list_tasks(job_id, marker=query.marker, max_items=query.max_items)
    return json_response(shapes.page(page, shapes.task))


async def get_task(request: web.Request) -> web.Response:
    job_id, task_name = request.match_info["job_id"], request.match_info["task"]
    task = _service(request).store.get_task(job_id, task_name)
    if task is None:
        raise not_found(f"{job_id}/{task_name}")
    return json_response(shapes.task(task))


def _instance_shaper(
    service: JobService, job_id: str, task_name: str
) -> Callable[[InstanceRecord], dict[str, Any]]:
    task = service.model(job_id).tasks.get(task_name)
    if task is None:
        raise not_found(f"{job_id}/{task_name}")
    stdout_dir = task.parameters.stdout_redirect_path
    stderr_dir = task.parameters.stderr_redirect_path
    return lambda record: shapes.instance(record, stdout_dir, stderr_dir)


async def list_instances(request: web.Request) -> web.Response:
    service = _service(request)
    job_id, task_name = request.match_info["job_id"], request.match_info["task"]
    shape = _instance_shaper(service, job_id, task_name)
    query = list_query(request.query)
    with query.marker_checked():
        page = service.store.list_instances(
            job_id, task_name, states=query.states, marker=query.marker, max_items=query.max_items
        )
    return json_response(shapes.page(page, shape))


async def get_instance(request: web.Request) -> web.Response:
    service = _service(request)
    job_id, task_name = request.match_info["job_id"], request.match_info["task"]
    shape = _instance_shaper(service, job_id, task_name)
    raw_id = request.match_info["instance"]
    instance_id = plain_number(raw_id)
    record = (
        None if instance_id is None else service.store.get_instance(job_id, task_name, instance_id)
    )
    if record is None:
        raise not_found(f"{job_id}/{task_name}/{raw_id}")
    return json_response(shape(record))


# -- account-level resources ------------------------------------------------------------


async def get_quotas(request: web.Request) -> web.Response:
    return json_response(shapes.quotas())


async def get_available(request: web.Request) -> web.Response:
    memory_gib = psutil.virtual_memory().total / 1024**3
    return json_response(shapes.available(psutil.cpu_count() or 1, memory_gib))


def _listed(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
    """One page of a short list sorted by Id: MaxItemCount honoured, the marker is an Id."""
    query = list_query(request.query)
    ids = [item["Id"] for item in items]
    if query.marker and query.marker not in ids:
        raise bad_query(f"Marker={query.marker}")
    start = ids.index(query.marker) if query.marker else 0
    end = start + query.max_items
    return json_response(
        {"Items": items[start:end], "NextMarker": ids[end] if end < len(ids) else ""}
    )


async def list_images(request: web.Request) -> web.Response:
    return _listed(request, shapes.images(_service(request).config))


async def get_image(request: web.Request) -> web.Response:
    image_id = request.match_info["id"]
    docker = _service(request).config.images.get(image_id)
    if docker is None:
        raise not_found(image_id)
    return json_response(shapes.image(image_id, docker))


async def list_clusters(request: web.Request) -> web.Response:
    return _listed(request, shapes.clusters(_service(request).config.clusters))


async def get_cluster(request: web.Request) -> web.Response:
    cluster_id = request.match_info["id"]
    definition = _service(request).config.clusters.get(cluster_id)
    if definition is None:
        raise not_found(cluster_id)
    return json_response(shapes.cluster(definition))


async def get_report(request: web.Request) -> web.Response:
    return await job_report(request, _service(request), request.app[REPORTS_ANYWHERE_KEY])


def make_app(service: JobService, *, reports_from_anywhere: bool = False) -> web.Application:
    app = web.Application(middlewares=[api_middleware], client_max_size=8 * 1024**2)
    app[SERVICE_KEY] = service
    app[REPORTS_ANYWHERE_KEY] = reports_from_anywhere
    app.add_routes(
        [
            web.post("/jobs", create_job),
            web.get("/jobs", list_jobs, allow_head=False),
            web.get("/jobs/{job_id}", get_job, allow_head=False),
            web.put("/jobs/{job_id}", change_priority),
            web.delete("/jobs/{job_id}", delete_job),
            web.post("/jobs/{job_id}/{action}", job_action),
            web.get("/jobs/{job_id}/tasks", list_tasks, allow_head=False),
            web.get("/jobs/{job_id}/tasks/{task}", get_task, allow_head=False),
            web.get("/jobs/{job_id}/tasks/{task}/instances", list_instances, allow_head=False),
            web.get(
                "/jobs/{job_id}/tasks/{task}/instances/{instance}", get_instance, allow_head=False
            ),
            web.get("/quotas", get_quotas, allow_head=False),
            web.get("/available", get_available, allow_head=False),
            web.get("/images", list_images, allow_head=False),
            web.get("/images/{id}", get_image, allow_head=False),
            web.get("/clusters", list_clusters, allow_head=False),
            web.get("/clusters/{id}", get_cluster, allow_head=False),
            web.get(REPORTS_PREFIX + "{job_id}", get_report, allow_head=False),
        ]
    )
    return app
