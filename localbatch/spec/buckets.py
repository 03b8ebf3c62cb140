"""The one rule for OSS bucket names, used by validation, storage, `localbatch oss` and the
local OSS endpoint alike.

A name OSS refuses could never hold a job's data in the cloud; accepting it here would make
a job pass locally that cannot run there (and the local endpoint would refuse it anyway).
"""

from __future__ import annotations

import re

#: OSS: 3-63 characters, lower-case letters, digits and hyphens, starting and ending with a
#: letter or digit. Valid in Python and in JSON Schema (ECMA-262) regexes.
BUCKET_PATTERN = r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]"
#: The rule in words, for messages and hints.
BUCKET_RULE = (
    "3-63 lower-case letters, digits or hyphens, starting and ending with a letter or digit"
)

_BUCKET_RE = re.compile(BUCKET_PATTERN)


def is_bucket_name(name: str) -> bool:
    return bool(_BUCKET_RE.fullmatch(name))
