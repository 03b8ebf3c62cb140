"""`localbatch oss-serve`: the local OSS endpoint alone, over the configured OSS root."""

from __future__ import annotations

import click

from localbatch.cli.common import EXIT_OK, Config, check_oss_root, config_options, fail
from localbatch.cli.stop_signal import wait_for_stop_signal


@click.command("oss-serve", short_help="Serve the OSS root over OSS's HTTP API (oss2, ossfs, bcs).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="0: any free port."
)
@config_options
def oss_serve(host: str, port: int, config: Config) -> None:
    """Serve the OSS root over OSS's HTTP API, for oss2, ossfs and `bcs`."""
    from localbatch.cli.server_logs import quiet_bad_requests
    from localbatch.ossendpoint.server import OssEndpoint  # aiohttp: only when serving

    quiet_bad_requests()
    check_oss_root(config)
    endpoint = OssEndpoint(
        config.oss.root,
        host=host,
        port=port,
        access_key_id=config.api_access_key_id,
        access_key_secret=config.api_access_key_secret,
        announce_open=False,  # said once below, beside the verifying case
    )
    try:
        endpoint.start()
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    click.echo(f"OSS endpoint {endpoint.url} serving {config.oss.root}")
    if endpoint.verifies_signatures:
        key_id = config.api_access_key_id
        click.echo(f"verifying OSS v1 signatures for AccessKeyId {key_id}", err=True)
    else:
        click.echo("no credentials configured: accepting any request, signed or not", err=True)
    try:
        wait_for_stop_signal()
    finally:
        endpoint.stop()
    raise SystemExit(EXIT_OK)


def register(group: click.Group) -> None:
    group.add_command(oss_serve)
