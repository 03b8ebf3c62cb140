"""localbatch: run Alibaba Cloud BatchCompute jobs on one machine.

The library surface: `validate(body)` answers every error the CreateJob API would give,
`load_job(path)` reads, validates and parses a job file, `parse_job(body)` builds the typed
model of a valid body, and `ApiError` is the one error the API answers with.
"""

__version__ = "0.1.0"

from localbatch.spec.errors import ApiError
from localbatch.spec.load import InvalidJob, JobFileError, load_job
from localbatch.spec.model import Job, parse_job
from localbatch.spec.validate import ValidationReport, validate

__all__ = [
    "ApiError",
    "InvalidJob",
    "Job",
    "JobFileError",
    "ValidationReport",
    "__version__",
    "load_job",
    "parse_job",
    "validate",
]
