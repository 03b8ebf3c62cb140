"""The registry's configuration and port: loopback only, a directory's own port while free."""

from __future__ import annotations

import socket
from pathlib import Path

from localbatch.images.registry import PORT_BASE, PORT_SPAN, _port_for, registry_config


def test_the_configuration_serves_the_directory_on_loopback_only(tmp_path: Path) -> None:
    config = registry_config(tmp_path, 20001, read_only=True)
    assert config["http"] == {"addr": "127.0.0.1:20001"}  # no debug server, no other address
    assert config["storage"]["filesystem"] == {"rootdirectory": str(tmp_path)}
    maintenance = config["storage"]["maintenance"]
    assert maintenance["readonly"] == {"enabled": True}
    assert maintenance["uploadpurging"] == {"enabled": False}
    assert registry_config(tmp_path, 1, read_only=False)["storage"]["maintenance"]["readonly"] == {
        "enabled": False
    }


def test_a_directory_keeps_its_port_while_it_is_free(tmp_path: Path) -> None:
    port = _port_for(tmp_path, 0)
    assert PORT_BASE <= port < PORT_BASE + PORT_SPAN
    assert _port_for(tmp_path, 0) == port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        assert _port_for(tmp_path, 0) != port  # taken: any free port
    assert _port_for(tmp_path, 1) != port  # a retry never insists on it
