"""Secrets are shown as ****** wherever a body is echoed."""

from __future__ import annotations

from localbatch.storage.redaction import MASK, redact, redact_text


def test_redact_hides_mount_credentials_at_every_level() -> None:
    body = {
        "Name": "j",
        "DAG": {
            "Tasks": {
                "t": {
                    "Mounts": {
                        "OSS": {
                            "AccessKeyId": "visible-id",
                            "AccessKeySecret": "hidden",
                            "AccessSecurityToken": "tok",
                        }
                    },
                    "AutoCluster": {
                        "Configs": {"Mounts": {"OSS": {"AccessKeySecret": "also-hidden"}}}
                    },
                }
            }
        },
        "List": [{"SecurityToken": "x"}],
    }
    shown = redact(body)
    oss = shown["DAG"]["Tasks"]["t"]["Mounts"]["OSS"]
    assert oss == {
        "AccessKeyId": "visible-id",
        "AccessKeySecret": MASK,
        "AccessSecurityToken": MASK,
    }
    assert shown["DAG"]["Tasks"]["t"]["AutoCluster"]["Configs"]["Mounts"]["OSS"] == {
        "AccessKeySecret": MASK
    }
    assert shown["List"] == [{"SecurityToken": MASK}]
    assert "hidden" not in repr(shown) and "tok" not in repr(shown)
    assert body["DAG"]["Tasks"]["t"]["Mounts"]["OSS"]["AccessKeySecret"] == "hidden"  # a copy


def test_empty_secrets_stay_empty() -> None:
    assert redact({"AccessKeySecret": ""}) == {"AccessKeySecret": ""}


def test_redact_text() -> None:
    assert redact_text("denied for key s3cr3t", ["s3cr3t", ""]) == "denied for key ******"
