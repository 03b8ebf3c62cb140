"""Tables of facts held as data in the code: error catalogues and instance types."""

from __future__ import annotations

from localbatch.ossendpoint.errors import CATALOGUE as OSS_CATALOGUE
from localbatch.spec.errors import CATALOGUE as API_CATALOGUE
from localbatch.spec.instance_types import INSTANCE_TYPES


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def api_errors() -> str:
    """Every shape of BatchCompute API error localbatch can answer."""
    rows = ["| HTTP | Code | Message |", "|---|---|---|"]
    for row in API_CATALOGUE.values():
        rows.append(f"| {row.http_status} | `{_cell(row.code)}` | {_cell(row.message)} |")
    return "\n".join(rows)


def oss_errors() -> str:
    """Every OSS error code the local OSS endpoint can answer, with its default message."""
    rows = ["| HTTP | Code | default Message |", "|---|---|---|"]
    for code, (status, message) in sorted(OSS_CATALOGUE.items()):
        rows.append(f"| {status} | `{code}` | {_cell(message)} |")
    return "\n".join(rows)


def instance_types() -> str:
    """The instance type table: name, cores, memory."""
    rows = ["| instance type | cores | memory |", "|---|---|---|"]
    for kind in INSTANCE_TYPES.values():
        rows.append(f"| `{kind.name}` | {kind.cpu_cores} | {kind.memory_gib} GiB |")
    return "\n".join(rows)
