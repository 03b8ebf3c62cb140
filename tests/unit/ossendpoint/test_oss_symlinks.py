"""A symbolic link planted in a bucket never lets the endpoint read or write outside it.

Every operation is tried through `lnk -> <outside dir>` and `file-lnk -> <outside file>`
(what an instance with a writable mount can create) with both resolution paths (openat2
and the component walk); a link that stays inside the bucket is followed.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from localbatch import beneath
from localbatch.ossendpoint.server import OssEndpoint
from tests.unit.ossendpoint.oss_http import complete_body, upload_id_of

SECRET = b"host secret"


@dataclass
class Planted:
    url: str
    root: Path
    outside: Path

    def untouched(self) -> bool:
        return (
            sorted(p.name for p in self.outside.iterdir()) == ["secret"]
            and (self.outside / "secret").read_bytes() == SECRET
        )


@pytest.fixture(params=["openat2", "walk"])
def planted(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Planted]:
    if request.param == "openat2" and not beneath._kernel_has_openat2():
        pytest.skip("no openat2 here")
    monkeypatch.setattr(beneath, "use_openat2", request.param == "openat2")
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "bkt" / "dir").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_bytes(SECRET)
    (root / "bkt" / "dir" / "inside").write_bytes(b"inside")
    (root / "bkt" / "lnk").symlink_to(outside)
    (root / "bkt" / "rel").symlink_to("../../outside")
    (root / "bkt" / "file-lnk").symlink_to(outside / "secret")
    (root / "bkt" / "in").symlink_to("dir")
    with OssEndpoint(root) as endpoint:
        yield Planted(endpoint.url, root, outside)


def refused(response: requests.Response) -> bool:
    return response.status_code == 403 and b"<Code>AccessDenied</Code>" in response.content


@pytest.mark.parametrize("key", ["lnk/secret", "rel/secret", "file-lnk"])
def test_reads_through_a_link_out_are_refused(planted: Planted, key: str) -> None:
    for method in ("GET", "HEAD"):
        response = requests.request(method, f"{planted.url}/bkt/{key}", timeout=10)
        assert response.status_code == 403, (method, response.status_code)
        assert SECRET not in response.content
    assert requests.head(f"{planted.url}/bkt/{key}?objectMeta", timeout=10).status_code == 403


def test_writes_through_a_link_out_are_refused(planted: Planted) -> None:
    url = planted.url
    assert refused(requests.put(f"{url}/bkt/lnk/planted", data=b"x", timeout=10))
    assert refused(requests.put(f"{url}/bkt/rel/deeper/planted", data=b"x", timeout=10))
    assert refused(requests.post(f"{url}/bkt/lnk/appended?append&position=0", data=b"x"))
    copy = {"x-oss-copy-source": "/bkt/dir/inside"}
    assert refused(requests.put(f"{url}/bkt/lnk/copied", headers=copy, timeout=10))
    assert refused(requests.delete(f"{url}/bkt/lnk/secret", timeout=10))
    assert refused(requests.delete(f"{url}/bkt/lnk/", timeout=10))
    delete_body = b"<Delete><Object><Key>lnk/secret</Key></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(delete_body).digest()).decode()
    requests.post(f"{url}/bkt?delete", data=delete_body, headers={"Content-MD5": md5})
    assert planted.untouched()


def test_copy_from_a_link_out_is_refused(planted: Planted) -> None:
    copy = {"x-oss-copy-source": "/bkt/file-lnk"}
    assert refused(requests.put(f"{planted.url}/bkt/stolen", headers=copy, timeout=10))
    assert not (planted.root / "bkt" / "stolen").exists()


def test_multipart_through_a_link_out_is_refused(planted: Planted) -> None:
    url = planted.url
    start = requests.post(f"{url}/bkt/lnk/multi?uploads", timeout=10)
    if start.status_code == 200:  # refused at the latest when the parts are assembled
        upload_id = upload_id_of(start)
        part = requests.put(f"{url}/bkt/lnk/multi?partNumber=1&uploadId={upload_id}", data=b"p")
        body = complete_body((1, part.headers.get("ETag", "")))
        done = requests.post(f"{url}/bkt/lnk/multi?uploadId={upload_id}", data=body, timeout=10)
        assert refused(done)
    else:
        assert refused(start)
    assert planted.untouched()


def test_listings_do_not_show_what_is_outside(planted: Planted) -> None:
    listing = requests.get(f"{planted.url}/bkt?list-type=2", timeout=10).text
    assert "secret" not in listing
    assert "<Key>dir/inside</Key>" in listing
    assert "<Key>in/inside</Key>" in listing  # a link inside is listed as what it shows
    prefixed = requests.get(f"{planted.url}/bkt?prefix=lnk/", timeout=10).text
    assert "secret" not in prefixed


def test_a_link_that_stays_inside_is_followed(planted: Planted) -> None:
    url = planted.url
    assert requests.get(f"{url}/bkt/in/inside", timeout=10).content == b"inside"
    assert requests.put(f"{url}/bkt/in/new", data=b"n", timeout=10).status_code == 200
    assert (planted.root / "bkt" / "dir" / "new").read_bytes() == b"n"
