"""Hide credentials before a job body, a config or a message is shown or stored in a log.

Job bodies carry `Mounts.OSS.AccessKeySecret` and `AccessSecurityToken`; the status output,
the echoed description (GetJobDescription) and event logs must never show them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MASK = "******"

#: Keys whose values are secrets wherever they appear (compared case-insensitively).
SECRET_KEYS = frozenset(
    {
        "accesskeysecret",
        "accesssecuritytoken",
        "securitytoken",
        "security_token",
        "access_key_secret",
        "secret",
        "x-acs-security-token",
    }
)


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and key.lower() in SECRET_KEYS


def redact(body: Any) -> Any:
    """A copy of `body` (JSON-like) with every secret value replaced by `******`."""
    if isinstance(body, Mapping):
        return {
            key: (MASK if is_secret_key(key) and value not in ("", None) else redact(value))
            for key, value in body.items()
        }
    if isinstance(body, list | tuple):
        return [redact(item) for item in body]
    return body


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """`text` with each known secret value replaced (for third-party error messages)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text
