"""Shared by the oss2/ossfs client tests: an endpoint over a temporary root, and clients."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import oss2

from localbatch.ossendpoint.server import OssEndpoint

ACCESS_KEY_ID = "test-akid"
ACCESS_KEY_SECRET = "test-secret"
BUCKET = "test-bucket"


@dataclass
class Served:
    root: Path
    endpoint: OssEndpoint

    def bucket(self, name: str = BUCKET, secret: str = ACCESS_KEY_SECRET) -> oss2.Bucket:
        return oss2.Bucket(oss2.Auth(ACCESS_KEY_ID, secret), self.endpoint.url, name)

    def service(self) -> oss2.Service:
        return oss2.Service(oss2.Auth(ACCESS_KEY_ID, ACCESS_KEY_SECRET), self.endpoint.url)

    def file(self, key: str, bucket: str = BUCKET) -> Path:
        return self.root / bucket / key


def serve(tmp_path: Path, *, signed: bool = True) -> Iterator[Served]:
    root = tmp_path / "oss"
    (root / BUCKET).mkdir(parents=True)
    creds = (
        {"access_key_id": ACCESS_KEY_ID, "access_key_secret": ACCESS_KEY_SECRET} if signed else {}
    )
    with OssEndpoint(root, **creds) as endpoint:
        yield Served(root, endpoint)
