"""Which bucket and key a raw request target names."""

from __future__ import annotations

import pytest

from localbatch.ossendpoint.addressing import bucket_from_host, parse_target


@pytest.mark.parametrize(
    ("authority", "bucket"),
    [
        ("127.0.0.1:8080", ""),
        ("172.17.0.1:41234", ""),
        ("[::1]:9000", ""),
        ("localhost:9000", ""),
        ("my-bucket.oss-cn-hangzhou.aliyuncs.com", "my-bucket"),
        ("my-bucket.oss-cn-local-internal.aliyuncs.com:80", "my-bucket"),
        ("my-bucket.localhost:9000", "my-bucket"),
        ("oss-cn-hangzhou.aliyuncs.com", ""),
        ("buildhost.example.com:9000", ""),
    ],
)
def test_bucket_from_host(authority: str, bucket: str) -> None:
    assert bucket_from_host(authority) == bucket


def test_path_style_decodes_bucket_key_and_query() -> None:
    target = parse_target("/bkt/dir%2Fa%20b%2B.txt?uploadId=X&partNumber=3&acl", "127.0.0.1:1")
    assert (target.bucket, target.key) == ("bkt", "dir/a b+.txt")
    assert target.query == {"uploadId": "X", "partNumber": "3", "acl": ""}


def test_service_and_bucket_level_targets() -> None:
    assert parse_target("/", "127.0.0.1:1").bucket == ""
    bucket_only = parse_target("/bkt?bucketInfo", "127.0.0.1:1")
    assert (bucket_only.bucket, bucket_only.key, bucket_only.query) == (
        "bkt",
        "",
        {"bucketInfo": ""},
    )


def test_virtual_host_style_from_host_header() -> None:
    target = parse_target("/logs/a.txt", "bkt.oss-cn-local.aliyuncs.com")
    assert (target.bucket, target.key) == ("bkt", "logs/a.txt")


def test_absolute_form_authority_wins_over_host() -> None:
    target = parse_target("http://bkt.oss-cn-x.aliyuncs.com/k?append&position=0", "127.0.0.1:5")
    assert (target.bucket, target.key, target.host) == ("bkt", "k", "bkt.oss-cn-x.aliyuncs.com")
    assert target.query == {"append": "", "position": "0"}
    path_style = parse_target("http://127.0.0.1:5/bkt/k", "ignored")
    assert (path_style.bucket, path_style.key) == ("bkt", "k")
    service = parse_target("http://oss-cn-x.aliyuncs.com", "ignored")
    assert (service.bucket, service.key) == ("", "")
