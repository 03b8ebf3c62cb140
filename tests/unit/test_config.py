"""Config precedence: default < file < environment < flags; bad values are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from localbatch.config import DEFAULT_DOCKER_IMAGE, DEFAULT_QUOTAS, ConfigError, load_config


def test_defaults_need_no_file(tmp_path: Path) -> None:
    config = load_config(tmp_path / "missing.toml", env={"HOME": str(tmp_path)})
    assert config.state_dir == tmp_path / ".local/share/localbatch"
    assert config.oss.root == config.state_dir / "oss"
    assert dict(config.quotas) == dict(DEFAULT_QUOTAS)
    assert config.images["img-ubuntu"] == DEFAULT_DOCKER_IMAGE
    assert not config.oss.remote
    assert config.source is None


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        """
state_dir = "/srv/lb"
region = "cn-test"
[quotas]
MaxJobCount = 5
MaxInstanceTimeout = 60
[oss]
root = "/srv/oss"
[oss.buckets]
lake = "memory://lake"
[images]
default = "my/base:1"
img-centos-vpc = "my/centos:7"
[clusters.cls-a]
instance_type = "bcs.a2.large"
[nas]
fs-1 = "/srv/nas1"
"""
    )
    env = {"HOME": str(tmp_path), "LOCALBATCH_MAX_JOB_COUNT": "7"}
    config = load_config(path, env=env, oss_root=tmp_path / "flag-root")
    assert config.state_dir == Path("/srv/lb")
    assert config.oss.root == tmp_path / "flag-root"
    assert config.quotas["MaxJobCount"] == 7
    assert config.quotas["MaxInstanceTimeout"] == 60
    assert config.oss.bucket_aliases == {"lake": "memory://lake"}
    assert config.images["img-ubuntu"] == "my/base:1"
    assert config.images["img-centos-vpc"] == "my/centos:7"
    assert config.clusters["cls-a"].instance_type == "bcs.a2.large"
    assert config.nas_dir("fs-1") == Path("/srv/nas1")
    assert config.nas_dir("fs-2") == Path("/srv/lb/nas/fs-2")
    assert config.region == "cn-test"
    assert config.source == path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[quotas]\nMaxJobCount = 0\n", "positive integer"),
        ("[quotas]\nMaxJobCount = true\n", "positive integer"),
        ("[quotas]\nMaxJobs = 3\n", "unknown quota"),
        ("quotas = 3\n", "must be a table"),
        ("not toml =", "cannot read config file"),
        ("[quota]\nMaxJobCount = 3\n", "unknown setting 'quota'"),
        ("[oss]\nrot = '/x'\n", "unknown setting oss.rot"),
        ("[clusters.c1]\nimage = 'x'\n", "unknown setting clusters.c1.image"),
        ("[capacity]\noversubscribe = 'sometimes'\n", "must be true or false"),
        ("[capacity]\nmax = 3\n", "unknown setting capacity.max"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, env={"HOME": str(tmp_path)})


def test_bad_quota_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LOCALBATCH_MAX_TASK_INSTANCE_COUNT"):
        load_config(
            tmp_path / "none.toml",
            env={"HOME": str(tmp_path), "LOCALBATCH_MAX_TASK_INSTANCE_COUNT": "many"},
        )


def test_swarm_settings_are_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[swarm]\nconstraints = ["node.labels.batch==yes", "node.role != manager"]\n'
        'network = "batchnet"\nadvertise_address = "10.0.0.5"\n'
    )
    swarm = load_config(path, env={}).swarm
    assert swarm.constraints == ("node.labels.batch==yes", "node.role != manager")
    assert (swarm.network, swarm.advertise_address) == ("batchnet", "10.0.0.5")
    env = {"LOCALBATCH_SWARM_ADVERTISE_ADDRESS": "10.9.9.9", "LOCALBATCH_SWARM_NETWORK": "n2"}
    assert load_config(path, env=env).swarm.advertise_address == "10.9.9.9"
    assert load_config(path, env=env).swarm.network == "n2"
    assert load_config(tmp_path / "none.toml", env={}).swarm.constraints == ()


def test_the_runtime_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    assert load_config(path, env={}).runtime == "auto"
    path.write_text('runtime = "swarm"\n')
    assert load_config(path, env={}).runtime == "swarm"
    assert load_config(path, env={"LOCALBATCH_RUNTIME": "docker"}).runtime == "docker"
    path.write_text("runtime = 3\n")
    with pytest.raises(ConfigError, match=r"runtime \(LOCALBATCH_RUNTIME\) must be a runtime"):
        load_config(path, env={})


def test_oversubscribe_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    assert not load_config(path, env={"HOME": str(tmp_path)}).oversubscribe
    path.write_text("[capacity]\noversubscribe = true\n")
    assert load_config(path, env={"HOME": str(tmp_path)}).oversubscribe
    env = {"HOME": str(tmp_path), "LOCALBATCH_OVERSUBSCRIBE": "no"}
    assert not load_config(path, env=env).oversubscribe
    env = {"HOME": str(tmp_path), "LOCALBATCH_OVERSUBSCRIBE": "1"}
    assert load_config(tmp_path / "none.toml", env=env).oversubscribe


def test_image_settings(tmp_path: Path) -> None:
    defaults = load_config(tmp_path / "missing.toml", env={}, state_dir=tmp_path / "s")
    assert defaults.image_cache == tmp_path / "s" / "images"
    assert (defaults.sandbox_files, dict(defaults.image_sources)) == ("image", {})
    assert defaults.sandbox_layers == "memory"
    path = tmp_path / "config.toml"
    path.write_text(
        'image_cache = "/srv/images"\n'
        "[image_sources]\n"
        '"team/x:1" = "docker-archive:/data/x.tar"\n'
        '[sandbox]\nfiles = "host"\nlayers = "disk"\n'
    )
    config = load_config(path, env={})
    assert config.image_cache == Path("/srv/images")
    assert dict(config.image_sources) == {"team/x:1": "docker-archive:/data/x.tar"}
    assert (config.sandbox_files, config.sandbox_layers) == ("host", "disk")
    env = {"LOCALBATCH_IMAGE_CACHE": "/elsewhere", "LOCALBATCH_SANDBOX_FILES": "image"}
    overridden = load_config(path, env=env)
    assert (overridden.image_cache, overridden.sandbox_files) == (Path("/elsewhere"), "image")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('constraints = "node.role==worker"', "must be a list of strings"),
        ('constraints = ["node.role"]', "is not of the form"),
        ('advertise_address = "manager.local"', "must be an IP address"),
        ('placement = "x"', "unknown setting swarm.placement"),
    ],
)
def test_bad_swarm_settings_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[swarm]\n{text}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path, env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[sandbox]\nfiles = "mine"\n', "sandbox files must be 'image'"),
        ('[sandbox]\nlayers = "ram"\n', "sandbox layers must be 'memory' or 'disk'"),
        ('[sandbox]\nfile = "host"\n', "unknown setting sandbox.file"),
        ('[image_sources]\n"x:1" = "/data/x.tar"\n', r"\[image_sources\] 'x:1': '/data/x.tar'"),
    ],
)
def test_bad_image_settings(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, env={})
