"""Signatures (on and off) and addressing styles, through the real oss2 and plain HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import oss2
import pytest
import requests

from tests.clients.oss_support import ACCESS_KEY_ID, ACCESS_KEY_SECRET, BUCKET, Served, serve


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


@pytest.fixture
def open_served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path, signed=False)


def test_without_credentials_anything_is_accepted(open_served: Served) -> None:
    assert not open_served.endpoint.verifies_signatures
    url = open_served.endpoint.url
    oss2.Bucket(oss2.AnonymousAuth(), url, BUCKET).put_object("anon", b"1")
    assert oss2.Bucket(oss2.Auth("any", "thing"), url, BUCKET).get_object("anon").read() == b"1"
    assert requests.get(f"{url}/{BUCKET}/anon", timeout=10).content == b"1"


def test_wrong_secret_is_signature_does_not_match(served: Served) -> None:
    assert served.endpoint.verifies_signatures
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as caught:
        served.bucket(secret="not-the-secret").put_object("k", b"v")
    assert caught.value.details["StringToSign"].endswith(f"/{BUCKET}/k")
    assert not served.file("k").exists()


def test_unknown_key_id_and_anonymous_are_refused(served: Served) -> None:
    url = served.endpoint.url
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        oss2.Bucket(oss2.Auth("someone-else", ACCESS_KEY_SECRET), url, BUCKET).get_bucket_info()
    assert (caught.value.status, caught.value.code) == (403, "InvalidAccessKeyId")
    with pytest.raises(oss2.exceptions.AccessDenied):
        oss2.Bucket(oss2.AnonymousAuth(), url, BUCKET).get_object("k")


def test_signed_subresources_headers_and_unicode_keys(served: Served) -> None:
    bucket = served.bucket()
    key = "dir with space/ü+%?#&=.txt"
    bucket.put_object(key, b"x", headers={"x-oss-meta-Mixed-Case": "v"})
    assert (
        bucket.get_object(key, params={"response-content-type": "text/x-y"}).content_type
        == "text/x-y"
    )
    assert served.file(key).read_bytes() == b"x"
    assert [o.key for o in oss2.ObjectIterator(bucket, prefix="dir with")] == [key]


def test_security_token_header_is_signed(served: Served) -> None:
    auth = oss2.StsAuth(ACCESS_KEY_ID, ACCESS_KEY_SECRET, "a-token")
    bucket = oss2.Bucket(auth, served.endpoint.url, BUCKET)
    bucket.put_object("sts", b"1")
    assert bucket.get_object("sts").read() == b"1"


def test_presigned_urls(served: Served) -> None:
    bucket = served.bucket()
    bucket.put_object("shared", b"secret bytes")
    url = bucket.sign_url("GET", "shared", 60)
    assert requests.get(url, timeout=10).content == b"secret bytes"
    put_url = bucket.sign_url("PUT", "uploaded", 60)
    assert requests.put(put_url, data=b"up", timeout=10).status_code == 200
    assert served.file("uploaded").read_bytes() == b"up"
    expired = bucket.sign_url("GET", "shared", -10)
    answer = requests.get(expired, timeout=10)
    assert answer.status_code == 403
    assert b"<Code>AccessDenied</Code>" in answer.content


def test_skewed_date_is_refused(served: Served) -> None:
    bucket = served.bucket()
    with pytest.raises(oss2.exceptions.ServerError) as caught:
        bucket.get_object_meta("k", headers={"x-oss-date": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert caught.value.code == "RequestTimeTooSkewed"


def test_virtual_host_style_through_a_proxy(served: Served) -> None:
    # The official CLI's endpoint is a real OSS host name: through HTTP_PROXY, the request
    # target is absolute (http://bucket.oss-cn-local.aliyuncs.com/key) and names the bucket.
    auth = oss2.Auth(ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    proxies = {"http": served.endpoint.url}
    bucket = oss2.Bucket(auth, "http://oss-cn-local.aliyuncs.com", BUCKET, proxies=proxies)
    bucket.put_object("via/proxy.txt", b"vh")
    assert served.file("via/proxy.txt").read_bytes() == b"vh"
    assert [o.key for o in bucket.list_objects(prefix="via/").object_list] == ["via/proxy.txt"]
    service = oss2.Service(auth, "http://oss-cn-local.aliyuncs.com", proxies=proxies)
    assert [b.name for b in service.list_buckets().buckets] == [BUCKET]


def test_virtual_host_style_from_the_host_header(open_served: Served) -> None:
    open_served.file("vh.txt").write_bytes(b"by host")
    url = f"{open_served.endpoint.url}/vh.txt"
    host = {"Host": f"{BUCKET}.oss-cn-local.aliyuncs.com"}
    assert requests.get(url, headers=host, timeout=10).content == b"by host"
    localhost = {"Host": f"{BUCKET}.localhost"}
    assert requests.get(url, headers=localhost, timeout=10).content == b"by host"


def test_errors_are_oss_xml_with_request_id(open_served: Served) -> None:
    answer = requests.get(f"{open_served.endpoint.url}/{BUCKET}/missing", timeout=10)
    assert answer.status_code == 404
    request_id = answer.headers["x-oss-request-id"]
    assert answer.headers["Content-Type"] == "application/xml"
    for element in ("<Code>NoSuchKey</Code>", f"<RequestId>{request_id}</RequestId>", "<HostId>"):
        assert element.encode() in answer.content


def test_unimplemented_subresource_is_reported(open_served: Served) -> None:
    answer = requests.get(f"{open_served.endpoint.url}/{BUCKET}?lifecycle", timeout=10)
    assert answer.status_code == 501
    assert b"lifecycle" in answer.content
