"""An endpoint that a job's instances can reach, for the runtime that runs them.

It listens only at the address the runtime declares in the registry
(`RuntimeEntry.instance_host`): the Docker bridge's gateway for containers, 127.0.0.1 for
a sandbox sharing the host's loopback; never on every interface. The engine sets
`BATCH_COMPUTE_OSS_HOST` and `OSS_ENDPOINT` to `endpoint.address` (`host:port`).

Decided: this endpoint accepts any signature, even when API credentials are configured.
Worker code signs with the cloud keys it carries (in its EnvVars or package), which the
local endpoint cannot know; checking them would refuse every real worker. What keeps it
private is where it listens: loopback or the Docker bridge only. `localbatch oss-serve`,
the endpoint for people and tools, keeps verifying when credentials are configured.
"""

from __future__ import annotations

import logging
from pathlib import Path

from localbatch.ossendpoint.server import OssEndpoint

log = logging.getLogger(__name__)


def instance_endpoint(host: str, root: Path, *, access_key_id: str = "") -> OssEndpoint:
    """A started endpoint over `root`, listening on `host`: where the instances' runtime
    says they reach this host.

    It accepts any signature (module docstring). The configured API key id is taken only to
    say so when they are set: a user who configured them must not believe instances are
    held to them.
    """
    endpoint = OssEndpoint(root, host=host, port=0, announce_open=False)
    endpoint.start()
    if not access_key_id:
        log.warning(
            "OSS endpoint for instances: %s over %s; accepts any request (no credentials are "
            "configured); listens on %s only",
            endpoint.url,
            root,
            endpoint.host,
        )
    else:
        log.warning(
            "OSS endpoint for instances: %s over %s; accepts any signature, not only "
            "AccessKeyId %s (worker code signs with its own cloud keys); listens on %s only",
            endpoint.url,
            root,
            access_key_id,
            endpoint.host,
        )
    return endpoint
