"""The one catalogue of BatchCompute API errors, and the one `ApiError` that carries them.

The CreateJob error table (shared/spec/createjob-api.txt) is regular: each of its rows is one
of a handful of shapes applied to a parameter (`Missing{Parameter}`, "Its type must be ...",
"Its length must be in [a, b].", ...). `CATALOGUE` holds those shapes once, as (HTTP status,
code template, message template); every row of the table is one shape with its placeholders
filled in, and `tests/conformance/test_error_table.py` checks that against the table's text.
The rest of the catalogue covers the errors the other API calls answer (api-wire.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: The name rule the table repeats for Name, task names and ClusterId.
NAME_CHARS = "It must only contain characters within [a-zA-Z0-9_-], and must not start with [0-9]."
OSS_PATH = (
    "OSS path must start with ‘oss://‘, must end with ‘/‘ if it is a folder, "
    "and must not end with ‘/‘ if it is a file."
)
INVALID = "Specified parameter {Parameter} is not valid."


@dataclass(frozen=True)
class ErrorRow:
    """One shape of error: status, code template, message template (`str.format` fields)."""

    http_status: int
    code: str
    message: str


CATALOGUE: Final[dict[str, ErrorRow]] = {
    # --- CreateJob body (createjob-api.txt) ---
    "IdempotentTokenMismatch": ErrorRow(
        400, "IdempotentTokenMismatch", "Specified idempotent token mismatch."
    ),
    "InvalidJsonFormat": ErrorRow(
        400, "InvalidJsonFormat", "The request body has an invalid json format."
    ),
    "InvalidHttpBody": ErrorRow(
        400,
        "InvalidHttpBody",
        "Specified parameter HttpBody is not valid. Its type must be object.",
    ),
    "Missing": ErrorRow(400, "Missing{Parameter}", "{Parameter} is mandatory for this action."),
    "Type": ErrorRow(400, "Invalid{Parameter}", INVALID + " Its type must be {type}."),
    "Length": ErrorRow(
        400, "Invalid{Parameter}", INVALID + " Its length must be in [{low}, {high}]."
    ),
    "Size": ErrorRow(400, "Invalid{Parameter}", INVALID + " Its size must be in [{low}, {high}]."),
    "Range": ErrorRow(400, "Invalid{Parameter}", INVALID + " It must be in [{low}, {high}]."),
    "NameChars": ErrorRow(400, "Invalid{Parameter}", INVALID + " " + NAME_CHARS),
    "OssPath": ErrorRow(400, "Invalid{Parameter}", INVALID + " " + OSS_PATH),
    "LocalPathAnyOs": ErrorRow(
        400,
        "Invalid{Parameter}",
        INVALID + " Local path must be an absolute path on linux, and an drive letter on windows.",
    ),
    "LocalPath": ErrorRow(
        400, "Invalid{Parameter}", INVALID + " Local path must be an absolute path."
    ),
    "Invalid": ErrorRow(400, "Invalid{Parameter}", INVALID),
    "QuotaExhausted": ErrorRow(
        403, "QuotaExhausted.{Name}", "The {Name} ({value}) quota is exhausted."
    ),
    # --- Beside the table (semantics.md, api-wire.md) ---
    "BadDAG": ErrorRow(400, "BadDAG", "It is a cyclic dag."),
    "StateConflict": ErrorRow(
        409, "StateConflict", "User operation is invalid. The current resource state is {State}."
    ),
    # The messages below are not published; localbatch words them in the service's style.
    "InvalidUrlPattern": ErrorRow(
        400, "InvalidUrlPattern", "The request url {Path} does not match any resource pattern."
    ),
    "MethodNotAllowed": ErrorRow(
        400, "MethodNotAllowed", "The method {Method} is not allowed for the resource {Path}."
    ),
    "InvalidVersion.NotFound": ErrorRow(
        403, "InvalidVersion.NotFound", "Specified api version {Version} is not found."
    ),
    "InvalidQueryString": ErrorRow(
        403, "InvalidQueryString", "Specified query string {Query} is not valid."
    ),
    "Forbidden": ErrorRow(403, "Forbidden", "{Reason}"),  # see `forbidden()`
    # Alibaba Cloud's gateway code and words for a signature nonce seen before.
    "SignatureNonceUsed": ErrorRow(
        400, "SignatureNonceUsed", "Specified signature nonce was used already."
    ),
    "InvalidHeader": ErrorRow(
        400, "InvalidHeader", "Specified header {Header} is not valid. {Reason}"
    ),
    "InvalidDigest": ErrorRow(
        400, "InvalidDigest", "Specified Content-MD5 is not matched with the request body."
    ),
    "InvalidResource.NotFound": ErrorRow(
        404, "InvalidResource.NotFound", "Specified resource {Resource} is not found."
    ),
    # The job store's disk is full, or cannot be written: nothing was recorded; retrying
    # later succeeds once it can be written again.
    "StoreFull": ErrorRow(
        503,
        "StoreFull",
        "The job store has no space left on its device; the request was not recorded. "
        "Retry once space is freed.",
    ),
    "StoreUnavailable": ErrorRow(
        503,
        "StoreUnavailable",
        "The job store cannot be written ({Reason}); the request was not recorded.",
    ),
    "InternalError": ErrorRow(
        500,
        "InternalError",
        "The request processing has failed due to some unknown error, exception or failure.",
    ),
    # localbatch's own, only from `localbatch validate --strict`: the API accepts (and keeps)
    # members it does not know.
    "UnknownField": ErrorRow(400, "UnknownField", "{Parameter} is not a known field."),
}


class ApiError(Exception):
    """An error the API answers: HTTP status, service code and message, plus where it applies.

    `path` is localbatch's own pointer into the request body (e.g. `DAG.Tasks.a.Timeout`),
    `hint` its own words on what the message leaves out (the wrong value, the allowed range,
    the name probably meant); neither is ever part of the wire body, and neither makes two
    errors different.
    """

    def __init__(
        self, http_status: int, code: str, message: str, path: str = "", hint: str = ""
    ) -> None:
        super().__init__(f"{http_status} {code}: {message}")
        self.http_status = http_status
        self.code = code
        self.message = message
        self.path = path
        self.hint = hint

    @classmethod
    def from_catalogue(
        cls, entry: str, path: str = "", *, hint: str = "", **values: object
    ) -> ApiError:
        """Fill one catalogue shape, e.g. `from_catalogue("Missing", Parameter="Name")`."""
        row = CATALOGUE[entry]
        code, message = row.code.format(**values), row.message.format(**values)
        return cls(row.http_status, code, message, path, hint)

    def to_body(self) -> dict[str, str]:
        """The wire body of the error response."""
        return {"Code": self.code, "Message": self.message}

    def to_dict(self) -> dict[str, object]:
        """The error as `localbatch validate --json` reports it."""
        return {
            "HttpStatus": self.http_status,
            "Code": self.code,
            "Message": self.message,
            "Path": self.path,
            "Hint": self.hint,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ApiError):
            return NotImplemented
        return self._identity() == other._identity()

    def _identity(self) -> tuple[int, str, str, str]:
        return (self.http_status, self.code, self.message, self.path)

    def __hash__(self) -> int:
        return hash(self._identity())

    def __repr__(self) -> str:
        return f"ApiError({self.http_status}, {self.code!r}, {self.message!r}, path={self.path!r})"


def quota_exhausted(name: str, value: int, path: str = "") -> ApiError:
    """403 QuotaExhausted.<name>: a configured quota was exceeded."""
    return ApiError.from_catalogue("QuotaExhausted", path, Name=name, value=value)


def state_conflict(state: object) -> ApiError:
    """409 StateConflict for a user operation the current state does not allow."""
    return ApiError.from_catalogue("StateConflict", State=state)


def not_found(resource: str) -> ApiError:
    """404 InvalidResource.NotFound for a job, task, instance, cluster or image id."""
    return ApiError.from_catalogue("InvalidResource.NotFound", Resource=resource)


def forbidden(reason: str = "Specified signature is not matched with our calculation.") -> ApiError:
    """403 Forbidden: a bad signature, an unknown access key or a request too far in time."""
    return ApiError.from_catalogue("Forbidden", Reason=reason)


def internal_error() -> ApiError:
    """500 InternalError: never leak a traceback to a client."""
    return ApiError.from_catalogue("InternalError")
