"""The one exception storage raises, carrying the service-style error code the instance
reports, and the one place where file systems' own errors become it.

Local files, fsspec targets, ossfs and oss2 raise their own types (oss2's for a bad key);
`file_system_errors` turns whatever they raise into a `StorageError` with the step's code
and a one-line reason, secrets masked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from localbatch.storage.redaction import redact_text

PACKAGE_ERROR = "PackageError"
INPUT_MAPPING_ERROR = "InputMappingError"
OUTPUT_UPLOAD_FAILED = "OutputUploadFailed"
LOG_UPLOAD_FAILED = "LogUploadFailed"
INVALID_OSS_PATH = "InvalidOssPath"
MOUNT_ERROR = "MountError"


class StorageError(Exception):
    """A storage step of an instance could not be done; `code` is what the instance records."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def describe(exc: BaseException) -> str:
    """A one-line reason for a third-party error (oss2 errors carry `code` and `message`)."""
    code, message = getattr(exc, "code", None), getattr(exc, "message", None)
    if isinstance(code, str) and isinstance(message, str) and code:
        return f"{code}: {message}"
    return str(exc) or type(exc).__name__


def reason(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """`describe`, with `secrets` masked: what a user may read of a file system's error."""
    return redact_text(describe(exc), secrets)


@contextlib.contextmanager
def file_system_errors(
    code: str, failed: str, *, missing: str = "", secrets: Iterable[str] = ()
) -> Iterator[None]:
    """Run one storage step on a file system: a StorageError passes as it is; a missing file
    becomes StorageError(code, `missing`) when that is given; anything else raised becomes
    StorageError(code, "`failed`: <reason>")."""
    try:
        yield
    except StorageError:
        raise
    except FileNotFoundError as exc:
        if not missing:
            raise StorageError(code, f"{failed}: {reason(exc, secrets)}") from exc
        raise StorageError(code, missing) from None
    except Exception as exc:  # third-party file systems raise types of their own
        raise StorageError(code, f"{failed}: {reason(exc, secrets)}") from exc
