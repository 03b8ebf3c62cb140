"""The one exception storage raises, carrying the service-style error code the instance reports."""

from __future__ import annotations

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
