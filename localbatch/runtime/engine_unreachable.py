"""Why no Docker engine answered, said in one readable line.

The Docker SDK wraps the real cause several layers deep (DockerException from requests'
ConnectionError from urllib3's ProtocolError from `FileNotFoundError(2, ...)`); its text
is a repr soup. The operating system's error at the bottom is what the user can act on.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from urllib.parse import urlsplit

#: What to do about it, whatever the reason.
START_DOCKER = "start the engine (`dockerd`), or install it (`apt-get install docker.io`)"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and everything it wraps: causes, contexts and exceptions among its args."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [a for a in current.args if isinstance(a, BaseException)]
        todo += [c for c in (current.__cause__, current.__context__) if c is not None]


def _socket_path(address: str) -> str:
    """The file of a unix:// address ('' for tcp:// and others)."""
    parts = urlsplit(address)
    return parts.path if parts.scheme in ("unix", "http+unix") else ""


def short_reason(address: str, exc: BaseException) -> str:
    """The operating system's reason when there is one ("no such socket /x.sock")."""
    where = _socket_path(address)
    for cause in _causes(exc):
        if not isinstance(cause, OSError) or cause.errno is None:
            continue
        if cause.errno == errno.ENOENT:
            return f"no such socket {where}" if where else "no such file"
        if cause.errno in (errno.EACCES, errno.EPERM):
            target = f" on {where}" if where else ""
            return f"permission denied{target} (run as root or join the docker group)"
        if cause.errno == errno.ECONNREFUSED:
            return "connection refused"
        return cause.strerror or errno.errorcode.get(cause.errno, str(cause.errno))
    text = str(exc).strip().splitlines()
    return text[0] if text and len(text[0]) <= 120 else type(exc).__name__


def unreachable_message(address: str, exc: BaseException, *, other_runtime: bool = True) -> str:
    """One line: what was tried, why it failed, what to do (`--runtime process` too, unless
    that is known not to work either)."""
    remedy = f"{START_DOCKER}, or use `--runtime process`" if other_runtime else START_DOCKER
    return f"no Docker engine answered at {address}: {short_reason(address, exc)}; {remedy}"
