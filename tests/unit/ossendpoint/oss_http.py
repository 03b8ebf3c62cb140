"""Small pieces of OSS requests the endpoint tests build by hand."""

from __future__ import annotations

import requests


def upload_id_of(initiated: requests.Response) -> str:
    """The UploadId an InitiateMultipartUpload answer carries."""
    return initiated.text.split("<UploadId>")[1].split("<")[0]


def complete_body(*parts: tuple[int, str]) -> str:
    """A CompleteMultipartUpload document listing (part number, ETag) pairs."""
    listed = "".join(
        f"<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"
        for number, etag in parts
    )
    return f"<CompleteMultipartUpload>{listed}</CompleteMultipartUpload>"
