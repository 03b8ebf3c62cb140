"""A small client of the BatchCompute API, signed like the official SDK.

The job commands use it to hand work to a running `localbatch serve`; the benchmark uses
it as a load generator. Error bodies come back as the same `ApiError` the server raised.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from localbatch.server.signature import signed_headers
from localbatch.spec.errors import ApiError


@dataclass(frozen=True)
class ApiClient:
    """A signed client of the BatchCompute API, for commands that hand work to a server."""

    url: str
    access_key_id: str = ""
    access_key_secret: str = ""
    region: str = "cn-local"
    timeout: float = 30.0

    def request(self, method: str, target: str, body: Any = None) -> Any:
        """The decoded answer; raises ApiError for an error answer, OSError when unreachable."""
        parts = urlsplit(self.url)
        headers = signed_headers(
            method,
            target,
            access_key_id=self.access_key_id,
            access_key_secret=self.access_key_secret,
            region=self.region,
            now=time.time(),
        )
        data = json.dumps(body).encode() if body is not None else b""
        conn = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port or 80, timeout=self.timeout
        )
        try:
            conn.request(method, target, body=data, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        decoded = json.loads(payload) if payload else None
        if response.status >= 400:
            answer = decoded if isinstance(decoded, dict) else {}
            raise ApiError(
                response.status,
                str(answer.get("Code", "HttpError")),
                str(answer.get("Message", payload[:200].decode(errors="replace"))),
            )
        return decoded
