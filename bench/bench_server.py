"""`localbatch serve` under load: GetJob while a 100-instance job runs, CreateJob errors.

The server runs in this process (fake runtime: the engine, the store and the event traffic
are real; no program runs); GetJob is also measured with every request signed (a second
server with credentials; the client signs as the SDK does); the load generator is a second
process (`python -m
bench.bench_server load ...`, aiohttp, 8 connections) so client and server do not share an
interpreter. Baseline from the same run: the same load against a bare aiohttp handler
answering a fixed JSON body in the same server process; the ratio says how much of the
framework's throughput the API keeps.

Targets (issue 5): GET /jobs/{id} >= 500 requests/s with p99 <= 20 ms while the job runs;
POST /jobs answering validation errors >= 300 requests/s. Run alone with
`.venv/bin/python -m bench.bench_server`.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, TCPConnector, web

SECONDS = 8.0
CONCURRENCY = 8
INSTANCES = 100
#: Each fake attempt takes this long: the job keeps running (and writing) during the load.
ATTEMPT_SECONDS = 0.3
ROOT = Path(__file__).resolve().parents[1]
KEY_ID, SECRET = "bench-key", "bench-secret"
INVALID_BODY = {"Name": "9-starts-with-a-digit", "Type": "DAG", "DAG": {"Tasks": {}}}


# -- the load generator (second process) -------------------------------------------------------


async def _load(
    url: str, method: str, body: bytes, seconds: float, concurrency: int, key: str = ""
) -> dict[str, Any]:
    """Requests from `concurrency` connections for `seconds`; signed as the SDK does when
    `key` is "<AccessKeyId>:<AccessKeySecret>"."""
    from urllib.parse import urlsplit

    from localbatch.server.signature import signed_headers

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    key_id, _, secret = key.partition(":")
    target = urlsplit(url).path

    def headers() -> dict[str, str]:
        if not key_id:
            return {"Content-Type": "application/json"}
        return signed_headers(
            method,
            target,
            access_key_id=key_id,
            access_key_secret=secret,
            region="cn-local",
            now=time.time(),
        )

    async def worker(session: ClientSession) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.request(method, url, data=body or None, headers=headers()) as reply:
                await reply.read()
                statuses[reply.status] = statuses.get(reply.status, 0) + 1
            latencies.append(time.perf_counter() - started)

    async with ClientSession(connector=TCPConnector(limit=concurrency)) as session:
        began = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "statuses": statuses,
    }


def _run_load(url: str, method: str = "GET", body: Any = None, key: str = "") -> dict[str, Any]:
    """Start the load generator process and answer its figures."""
    command = [sys.executable, "-m", "bench.bench_server", "load", url, method]
    command += [json.dumps(body) if body is not None else "", str(SECONDS), str(CONCURRENCY)]
    command += [key]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout))


# -- the server side -----------------------------------------------------------------------------


def _baseline_app() -> web.Application:
    async def fixed(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"Id": "job-0", "State": "Running"})

    app = web.Application()
    app.add_routes([web.get("/fixed", fixed), web.post("/fixed", fixed)])
    return app


def _job_body() -> dict[str, Any]:
    task = {
        "Parameters": {
            "Command": {"CommandLine": "python main.py", "PackagePath": ""},
            "StdoutRedirectPath": "oss://bench/logs/",
            "StderrRedirectPath": "oss://bench/logs/",
        },
        "InstanceCount": INSTANCES,
        "Timeout": 600,
        "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
    }
    return {"Name": "bench", "Type": "DAG", "DAG": {"Tasks": {"work": task}}}


def main() -> dict[str, Any]:
    from localbatch.config import load_config
    from localbatch.runtime.fake import FakeRuntime, FakeStep
    from localbatch.server.background import ServerThread
    from localbatch.server.client import ApiClient
    from localbatch.server.stack import start_stack

    def server(base: Path, env: dict[str, str]) -> Any:
        config = load_config(
            base / "none.toml", env=env, state_dir=base / "state", oss_root=base / "oss"
        )
        runtime = FakeRuntime(FakeStep(duration=ATTEMPT_SECONDS))
        return start_stack(config, runtime, port=0, oss_port=None, max_parallel=8)

    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        stack = server(Path(tmp) / "open", {})
        credentials = {"LOCALBATCH_ACCESS_KEY_ID": KEY_ID, "LOCALBATCH_ACCESS_KEY_SECRET": SECRET}
        signed = server(Path(tmp) / "signed", credentials)
        baseline = ServerThread(_baseline_app())
        baseline.start()
        try:
            job_id = ApiClient(stack.url).request("POST", "/jobs", _job_body())["Id"]
            get_base = _run_load(f"{baseline.url}/fixed")
            get_job = _run_load(f"{stack.url}/jobs/{job_id}")
            running = stack.store.get_job(job_id)
            still_running = running is not None and not running.state.terminal
            signed_id = ApiClient(signed.url, KEY_ID, SECRET).request("POST", "/jobs", _job_body())[
                "Id"
            ]
            get_signed = _run_load(f"{signed.url}/jobs/{signed_id}", key=f"{KEY_ID}:{SECRET}")
            post_base = _run_load(f"{baseline.url}/fixed", "POST", INVALID_BODY)
            post_invalid = _run_load(f"{stack.url}/jobs", "POST", INVALID_BODY)
        finally:
            baseline.stop()
            stack.close()
            signed.close()
    return {
        "get_job": get_job,
        "get_baseline": get_base,
        "get_ratio": round(get_job["rps"] / get_base["rps"], 3),
        "job_running_throughout": still_running,
        "get_job_signed": get_signed,
        "post_invalid": post_invalid,
        "post_baseline": post_base,
        "post_ratio": round(post_invalid["rps"] / post_base["rps"], 3),
        "targets_met": get_job["rps"] >= 500
        and get_job["p99_ms"] <= 20
        and post_invalid["rps"] >= 300
        and set(post_invalid["statuses"]) == {"400"}
        and set(get_signed["statuses"]) == {"200"},
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["load"]:
        url, method, body, seconds, concurrency, key = sys.argv[2:8]
        figures = asyncio.run(
            _load(url, method, body.encode(), float(seconds), int(concurrency), key)
        )
        print(json.dumps(figures))
    else:
        print(json.dumps(main(), indent=2))
