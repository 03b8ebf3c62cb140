"""A second swarm node on this machine, for the tests of placement across nodes.

A second `dockerd` runs in its own network namespace (a veth pair to this host, its own
bridge, data root, exec root and pid file), its own UTS namespace (its own host name) and
its own mount namespace, where one directory of this host (`hidden`) is covered by an
empty tmpfs: a state directory there is one this node does not see, as a node without the
shared storage would not. It has no registry: the test image is copied into it
(`docker save | docker load`), and it joins this engine's swarm as a worker over the veth.

Needs root, `ip` (iproute2), `unshare` and `nsenter` (util-linux) and `dockerd`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

#: Seconds the second engine gets to answer, and to be seen Ready by the manager.
START_SECONDS = 60.0


class NodeUnavailable(Exception):
    """The second node cannot be made here; the message says why."""


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NodeUnavailable(f"`{' '.join(command)}` failed: {done.stderr.strip()}")


@dataclass
class SecondNode:
    """One extra worker; `start()` then `stop()` (which undoes everything it made)."""

    manager: Any
    image: str
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    hidden: Path = Path("/tmp/localbatch-node-hidden")
    process: subprocess.Popen[bytes] | None = None
    client: Any = None
    node_id: str = ""

    @property
    def hostname(self) -> str:
        return f"lbnode-{self.suffix}"

    @property
    def netns(self) -> str:
        return f"lbns-{self.suffix}"

    @property
    def host_address(self) -> str:
        """This host's end of the veth: where the node reaches the manager."""
        return f"10.213.{int(self.suffix[:2], 16)}.1"

    @property
    def node_address(self) -> str:
        return f"10.213.{int(self.suffix[:2], 16)}.2"

    @property
    def root(self) -> Path:
        return Path(f"/var/lib/localbatch-test-node-{self.suffix}")

    @property
    def run_dir(self) -> Path:
        return Path(f"/run/lbt-{self.suffix}")

    def start(self) -> None:
        for tool in ("ip", "unshare", "nsenter", "dockerd"):
            if shutil.which(tool) is None:
                raise NodeUnavailable(f"{tool} is not installed")
        if os.geteuid() != 0:
            raise NodeUnavailable("a second dockerd needs root")
        try:
            self._network()
            self._engine()
            self._copy_image()
            self._join()
        except BaseException:
            self.stop()
            raise

    def _network(self) -> None:
        host_end, node_end = f"lbv{self.suffix}a", f"lbv{self.suffix}b"
        _run("ip", "netns", "add", self.netns)
        _run("ip", "link", "add", host_end, "type", "veth", "peer", "name", node_end)
        _run("ip", "link", "set", node_end, "netns", self.netns)
        _run("ip", "addr", "add", f"{self.host_address}/24", "dev", host_end)
        _run("ip", "link", "set", host_end, "up")
        inside = ("ip", "netns", "exec", self.netns, "ip")
        _run(*inside, "addr", "add", f"{self.node_address}/24", "dev", node_end)
        _run(*inside, "link", "set", node_end, "up")
        _run(*inside, "link", "set", "lo", "up")
        _run(*inside, "route", "add", "default", "via", self.host_address)

    def _engine(self) -> None:
        self.hidden.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        socket = self.run_dir / "docker.sock"
        dockerd = (
            f"hostname {self.hostname} && mount -t tmpfs localbatch-hidden {self.hidden} && "
            f"exec nsenter --net=/run/netns/{self.netns} dockerd --data-root {self.root} "
            f"--exec-root {self.run_dir / 'exec'} --pidfile {self.run_dir / 'docker.pid'} "
            f"-H unix://{socket} --cgroup-parent /{self.hostname} "
            f"--bip 172.31.{int(self.suffix[:2], 16)}.1/24"
        )
        self.process = subprocess.Popen(
            ["unshare", "--mount", "--uts", "--propagation", "slave", "sh", "-c", dockerd],
            stdout=(self.run_dir / "dockerd.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.run_dir / "dockerd.log").read_text(errors="replace")[-2000:]
                raise NodeUnavailable(f"the second dockerd exited: {log}")
            with contextlib.suppress(docker.errors.DockerException):
                self.client = docker.DockerClient(base_url=f"unix://{socket}")
                return
            time.sleep(0.5)
        raise NodeUnavailable(f"the second dockerd did not answer within {START_SECONDS:g} s")

    def _copy_image(self) -> None:
        """No registry: the image travels as a tar, as `docker save | docker load`."""
        data = b"".join(self.manager.images.get(self.image).save(named=True))
        self.client.images.load(data)

    def _join(self) -> None:
        token = self.manager.swarm.attrs["JoinTokens"]["Worker"]
        self.client.swarm.join(
            remote_addrs=[f"{self.host_address}:2377"],
            join_token=token,
            advertise_addr=self.node_address,
            listen_addr=f"{self.node_address}:2377",
        )
        self.node_id = str(self.client.info()["Swarm"]["NodeID"])
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            node = self.manager.api.inspect_node(self.node_id)
            if node["Status"]["State"] == "ready":
                return
            time.sleep(0.5)
        raise NodeUnavailable("the second node did not become ready")

    def availability(self, node: str, value: str) -> None:
        """Set a node's availability ("drain", "active"), by host name or id."""
        spec = self.manager.api.inspect_node(node)
        self.manager.api.update_node(
            spec["ID"], spec["Version"]["Index"], {**spec["Spec"], "Availability": value}
        )

    def stop(self) -> None:
        """Leave the swarm, stop the engine, remove its namespace, veth and data."""
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.swarm.leave(force=True)
            self.client.close()
        if self.node_id:
            with contextlib.suppress(docker.errors.APIError):
                self.manager.api.remove_node(self.node_id, force=True)
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, check=False)
        subprocess.run(
            ["ip", "link", "del", f"lbv{self.suffix}a"], capture_output=True, check=False
        )
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)
