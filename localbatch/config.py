"""localbatch settings: one TOML file, overridden by environment variables, overridden by flags.

Every setting has a documented default so that `localbatch run job.json` works with no
configuration at all. Precedence, lowest to highest: built-in default, config file
(`$LOCALBATCH_CONFIG`, else `$XDG_CONFIG_HOME/localbatch/config.toml`), environment
variable, command-line flag (passed to `load_config` as overrides).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from localbatch.spec.buckets import BUCKET_RULE, is_bucket_name

QUOTA_NAMES = ("MaxJobCount", "MaxJobTaskCount", "MaxTaskInstanceCount", "MaxInstanceTimeout")

#: Generous defaults: the service publishes none (semantics.md, "Limits").
DEFAULT_QUOTAS: Mapping[str, int] = {
    "MaxJobCount": 10_000,
    "MaxJobTaskCount": 1_000,
    "MaxTaskInstanceCount": 10_000,
    "MaxInstanceTimeout": 7 * 24 * 3600,
}

#: Environment variable for each quota.
QUOTA_ENV = {
    "MaxJobCount": "LOCALBATCH_MAX_JOB_COUNT",
    "MaxJobTaskCount": "LOCALBATCH_MAX_JOB_TASK_COUNT",
    "MaxTaskInstanceCount": "LOCALBATCH_MAX_TASK_INSTANCE_COUNT",
    "MaxInstanceTimeout": "LOCALBATCH_MAX_INSTANCE_TIMEOUT",
}

#: The locally built image every BatchCompute image id maps to unless configured otherwise.
DEFAULT_DOCKER_IMAGE = "localbatch/bookworm-python:2"
DEFAULT_IMAGE_IDS = ("img-ubuntu", "img-ubuntu-vpc", "img-centos-vpc")
DEFAULT_INSTANCE_TYPE = "ecs.sn1.medium"
DEFAULT_REGION = "cn-local"
#: `[packages] max_unpacked_size`: what one package may take once unpacked (a package is
#: code, its data comes through the mappings); checked while unpacking.
DEFAULT_PACKAGE_MAX_UNPACKED = 4 << 30
#: `[packages] cache_size`: the unpacked package cache is pruned (least recently used
#: first, never what a running attempt uses) once it holds more.
DEFAULT_PACKAGE_CACHE_SIZE = 20 << 30
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


class ConfigError(Exception):
    """The configuration file or an environment variable is unusable."""


#: The files an image may be kept in (`[image_sources]`), as skopeo names their transports.
IMAGE_FILE_TRANSPORTS = ("docker-archive", "oci", "oci-archive")


@dataclass(frozen=True)
class ImageFile:
    """An `[image_sources]` value: a `docker save` archive, an OCI layout or an OCI archive."""

    transport: str
    path: Path
    #: The image inside (an OCI ref name, or a docker-archive's `name:tag`); "" for the only one.
    ref: str = ""

    def __str__(self) -> str:
        return f"{self.transport}:{self.path}" + (f":{self.ref}" if self.ref else "")


def parse_image_file(text: str) -> ImageFile:
    """`transport:path[:ref]`; ValueError says what is wrong."""
    transport, colon, rest = text.partition(":")
    if not colon or transport not in IMAGE_FILE_TRANSPORTS:
        raise ValueError(
            f"{text!r} is not an image file: write docker-archive:PATH, oci:PATH[:REF] "
            "or oci-archive:PATH[:REF]"
        )
    path, _, ref = rest.partition(":")
    if not path.startswith(("/", "~")):
        raise ValueError(f"{text!r}: the path must be absolute")
    return ImageFile(transport, Path(path).expanduser(), ref)


@dataclass(frozen=True)
class ClusterDefinition:
    """What a `ClusterId` means locally: the image and instance type its nodes would have."""

    cluster_id: str
    image_id: str = "img-ubuntu"
    instance_type: str = DEFAULT_INSTANCE_TYPE
    docker_image: str = ""


@dataclass(frozen=True)
class OssSettings:
    """Where `oss://` paths live: the local root, per-bucket aliases, or real OSS."""

    root: Path
    #: bucket name -> fsspec URL (file:///data/lake, memory://, s3://...).
    bucket_aliases: Mapping[str, str] = field(default_factory=dict)
    #: Real OSS through ossfs when endpoint and credentials are set.
    endpoint: str = ""
    access_key_id: str = ""
    access_key_secret: str = ""
    security_token: str = ""

    @property
    def remote(self) -> bool:
        return bool(self.endpoint and self.access_key_id and self.access_key_secret)


#: A Swarm placement constraint as `docker service create --constraint` takes it.
_CONSTRAINT = re.compile(r"^\s*[A-Za-z0-9_.\-]+\s*(==|!=)\s*\S.*$")


@dataclass(frozen=True)
class SwarmSettings:
    """`[swarm]`: where the swarm runtime places instances and where they reach this host."""

    #: Placement constraints every instance's service gets ("node.labels.batch==yes").
    constraints: tuple[str, ...] = ()
    #: The network the services join ("" = each node's default bridge network).
    network: str = ""
    #: Where instances on other nodes reach the OSS endpoint of this manager ("" = the
    #: swarm's advertise address of this node).
    advertise_address: str = ""


@dataclass(frozen=True)
class Config:
    state_dir: Path
    oss: OssSettings
    quotas: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_QUOTAS))
    #: BatchCompute image id (img-..., m-...) -> local Docker image name.
    images: Mapping[str, str] = field(
        default_factory=lambda: dict.fromkeys(DEFAULT_IMAGE_IDS, DEFAULT_DOCKER_IMAGE)
    )
    default_docker_image: str = DEFAULT_DOCKER_IMAGE
    clusters: Mapping[str, ClusterDefinition] = field(default_factory=dict)
    #: NAS file system id -> local directory; unknown ids live under state_dir/nas/<id>.
    nas: Mapping[str, Path] = field(default_factory=dict)
    region: str = DEFAULT_REGION
    #: Credentials the HTTP API and the OSS endpoint require; empty means "accept anything".
    api_access_key_id: str = ""
    api_access_key_secret: str = ""
    #: Where notification messages are POSTed (a local webhook); empty disables publishing.
    notification_endpoint: str = ""
    #: How each attempt gets its copy of the package: "auto" (overlay where possible, else
    #: link), "overlay", "link" or "copy" (docs/storage.md, "Packages").
    package_copy: str = "auto"
    #: Where prepared root file systems and registry mirrors live (docs/images.md).
    image_cache: Path = Path()
    #: Docker image name -> an image file skopeo reads ("docker-archive:/x.tar", "oci:/d:ref").
    image_sources: Mapping[str, str] = field(default_factory=dict)
    #: What the process runtime shows programs: "image" (their image) or "host" (this
    #: host's own files, asked for explicitly).
    sandbox_files: str = "image"
    #: Where the process runtime keeps attempts' private layers over their image:
    #: "memory" (/dev/shm) or "disk" (the image cache).
    sandbox_layers: str = "memory"
    #: Bytes one package may take unpacked (PackageError beyond), and the cache's cap.
    package_max_unpacked: int = DEFAULT_PACKAGE_MAX_UNPACKED
    package_cache_size: int = DEFAULT_PACKAGE_CACHE_SIZE
    swarm: SwarmSettings = field(default_factory=SwarmSettings)
    #: The runtime `run`, `start`, `serve` and `plan` use when no --runtime is given:
    #: "auto", or a runtime's name (checked when it is chosen, against the runtimes).
    runtime: str = "auto"
    #: Start instances side by side whatever their sizes add up to, each inside its own
    #: limits, up to --max-parallel (docs/running.md, "Scheduling and capacity").
    oversubscribe: bool = False
    source: Path | None = None

    def __post_init__(self) -> None:
        if self.image_cache == Path():
            object.__setattr__(self, "image_cache", self.state_dir / "images")

    def nas_dir(self, file_system_id: str) -> Path:
        return self.nas.get(file_system_id, self.state_dir / "nas" / file_system_id)

    def with_overrides(self, **changes: Any) -> Config:
        return replace(self, **changes)


def default_state_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local/share")
    return Path(base) / "localbatch"


def default_config_path(env: Mapping[str, str]) -> Path:
    if env.get("LOCALBATCH_CONFIG"):
        return Path(env["LOCALBATCH_CONFIG"])
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "localbatch" / "config.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc


def _table(data: Mapping[str, Any], name: str, path: Path) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: [{name}] must be a table")
    return value


#: Every key the config file may hold; anything else is a typo that would be ignored.
KNOWN_KEYS: Mapping[str, frozenset[str] | None] = {
    "state_dir": None,
    "runtime": None,
    "region": None,
    "oss": frozenset(
        {"root", "buckets", "endpoint", "access_key_id", "access_key_secret", "security_token"}
    ),
    "quotas": None,  # checked against QUOTA_NAMES with its own message
    "images": None,  # any image id
    "clusters": None,  # any cluster id; each checked below
    "nas": None,  # any file system id
    "api": frozenset({"access_key_id", "access_key_secret"}),
    "notifications": frozenset({"endpoint"}),
    "packages": frozenset({"copy", "max_unpacked_size", "cache_size"}),
    "swarm": frozenset({"constraints", "network", "advertise_address"}),
    "capacity": frozenset({"oversubscribe"}),
    "image_cache": None,
    "image_sources": None,  # any image name
    "sandbox": frozenset({"files", "layers"}),
}
SANDBOX_FILES = ("image", "host")
SANDBOX_LAYERS = ("memory", "disk")
CLUSTER_KEYS = frozenset({"image_id", "instance_type", "docker_image"})


def _check_known_keys(data: Mapping[str, Any], path: Path) -> None:
    """Refuse keys localbatch does not know: a misspelt setting must not be ignored."""
    for key, value in data.items():
        if key not in KNOWN_KEYS:
            raise ConfigError(f"{path}: unknown setting {key!r}; known: {', '.join(KNOWN_KEYS)}")
        allowed = KNOWN_KEYS[key]
        if allowed is not None and isinstance(value, Mapping):
            for inner in value:
                if inner not in allowed:
                    known = ", ".join(sorted(allowed))
                    raise ConfigError(f"{path}: unknown setting {key}.{inner}; known: {known}")


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a positive integer, not {value!r}")
    try:
        number = int(str(value))
    except ValueError:
        raise ConfigError(f"{what} must be a positive integer, not {value!r}") from None
    if number < 1:
        raise ConfigError(f"{what} must be a positive integer, not {value!r}")
    return number


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    state_dir: Path | None = None,
    oss_root: Path | None = None,
) -> Config:
    """Build the effective configuration (file, then environment, then the given flags).

    The state directory and the OSS root are made absolute: runtimes bind paths below them
    (Docker refuses a relative one), and messages name them wherever the user is."""
    env = os.environ if env is None else env
    config_path = path or default_config_path(env)
    data = _read_toml(config_path)
    _check_known_keys(data, config_path)

    state = (
        Path(
            state_dir
            or env.get("LOCALBATCH_STATE_DIR")
            or data.get("state_dir")
            or default_state_dir(env)
        )
        .expanduser()
        .absolute()
    )

    oss_table = _table(data, "oss", config_path)
    root = (
        Path(oss_root or env.get("LOCALBATCH_OSS_ROOT") or oss_table.get("root") or state / "oss")
        .expanduser()
        .absolute()
    )
    aliases = _table(oss_table, "buckets", config_path)
    for bucket in aliases:
        if not is_bucket_name(str(bucket)):
            raise ConfigError(
                f"{config_path}: [oss.buckets] {bucket!r} is not a valid bucket name "
                f"({BUCKET_RULE})"
            )
    oss = OssSettings(
        root=root,
        bucket_aliases={str(k): str(v) for k, v in aliases.items()},
        endpoint=env.get("OSS_ENDPOINT") or str(oss_table.get("endpoint", "")),
        access_key_id=env.get("OSS_ACCESS_KEY_ID") or str(oss_table.get("access_key_id", "")),
        access_key_secret=env.get("OSS_ACCESS_KEY_SECRET")
        or str(oss_table.get("access_key_secret", "")),
        security_token=env.get("OSS_SECURITY_TOKEN") or str(oss_table.get("security_token", "")),
    )

    quotas = dict(DEFAULT_QUOTAS)
    for name, value in _table(data, "quotas", config_path).items():
        if name not in QUOTA_ENV:
            raise ConfigError(
                f"{config_path}: unknown quota {name!r}; known: {', '.join(QUOTA_NAMES)}"
            )
        quotas[name] = _positive_int(value, f"quota {name}")
    for name, variable in QUOTA_ENV.items():
        if env.get(variable):
            quotas[name] = _positive_int(env[variable], variable)

    images_table = _table(data, "images", config_path)
    default_image = str(images_table.get("default", DEFAULT_DOCKER_IMAGE))
    images = dict.fromkeys(DEFAULT_IMAGE_IDS, default_image)
    images.update({str(k): str(v) for k, v in images_table.items() if k != "default"})

    clusters = {}
    for cluster_id, spec in _table(data, "clusters", config_path).items():
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{config_path}: [clusters.{cluster_id}] must be a table")
        unknown = sorted(set(spec) - CLUSTER_KEYS)
        if unknown:
            raise ConfigError(
                f"{config_path}: unknown setting clusters.{cluster_id}.{unknown[0]}; "
                f"known: {', '.join(sorted(CLUSTER_KEYS))}"
            )
        clusters[str(cluster_id)] = ClusterDefinition(
            cluster_id=str(cluster_id),
            image_id=str(spec.get("image_id", "img-ubuntu")),
            instance_type=str(spec.get("instance_type", DEFAULT_INSTANCE_TYPE)),
            docker_image=str(spec.get("docker_image", "")),
        )

    nas = {str(k): Path(str(v)).expanduser() for k, v in _table(data, "nas", config_path).items()}
    api = _table(data, "api", config_path)
    notifications = _table(data, "notifications", config_path)
    packages = _table(data, "packages", config_path)
    package_copy = env.get("LOCALBATCH_PACKAGE_COPY") or str(packages.get("copy", "auto"))
    max_unpacked = _size(
        env.get("LOCALBATCH_PACKAGE_MAX_UNPACKED_SIZE")
        or packages.get("max_unpacked_size", DEFAULT_PACKAGE_MAX_UNPACKED),
        "packages max_unpacked_size",
    )
    cache_size = _size(
        env.get("LOCALBATCH_PACKAGE_CACHE_SIZE")
        or packages.get("cache_size", DEFAULT_PACKAGE_CACHE_SIZE),
        "packages cache_size",
    )
    capacity = _table(data, "capacity", config_path)
    oversubscribe = _flag(
        env.get("LOCALBATCH_OVERSUBSCRIBE") or capacity.get("oversubscribe", False),
        "capacity oversubscribe (LOCALBATCH_OVERSUBSCRIBE)",
    )
    if package_copy not in ("auto", "overlay", "link", "copy"):
        raise ConfigError(
            f"package copy mode must be 'auto', 'overlay', 'link' or 'copy', not {package_copy!r}"
        )
    image_cache = Path(
        env.get("LOCALBATCH_IMAGE_CACHE") or data.get("image_cache") or state / "images"
    ).expanduser()
    image_sources = _image_sources(_table(data, "image_sources", config_path), config_path)
    sandbox_table = _table(data, "sandbox", config_path)
    sandbox_files = env.get("LOCALBATCH_SANDBOX_FILES") or str(sandbox_table.get("files", "image"))
    if sandbox_files not in SANDBOX_FILES:
        raise ConfigError(
            f"sandbox files must be 'image' (the job's image) or 'host' (this host's own "
            f"files), not {sandbox_files!r}"
        )
    sandbox_layers = env.get("LOCALBATCH_SANDBOX_LAYERS") or str(
        sandbox_table.get("layers", "memory")
    )
    if sandbox_layers not in SANDBOX_LAYERS:
        raise ConfigError(f"sandbox layers must be 'memory' or 'disk', not {sandbox_layers!r}")
    runtime = env.get("LOCALBATCH_RUNTIME") or data.get("runtime", "auto")
    if not isinstance(runtime, str) or not re.fullmatch(r"[a-z]+", runtime):
        raise ConfigError(
            f"runtime (LOCALBATCH_RUNTIME) must be a runtime's name, as --runtime takes it, "
            f"not {runtime!r}"
        )
    return Config(
        state_dir=state,
        oss=oss,
        quotas=quotas,
        images=images,
        default_docker_image=default_image,
        clusters=clusters,
        nas=nas,
        region=env.get("LOCALBATCH_REGION") or str(data.get("region", DEFAULT_REGION)),
        api_access_key_id=env.get("LOCALBATCH_ACCESS_KEY_ID") or str(api.get("access_key_id", "")),
        api_access_key_secret=env.get("LOCALBATCH_ACCESS_KEY_SECRET")
        or str(api.get("access_key_secret", "")),
        notification_endpoint=env.get("LOCALBATCH_NOTIFICATION_ENDPOINT")
        or str(notifications.get("endpoint", "")),
        package_copy=package_copy,
        image_cache=image_cache,
        image_sources=image_sources,
        sandbox_files=sandbox_files,
        sandbox_layers=sandbox_layers,
        package_max_unpacked=max_unpacked,
        package_cache_size=cache_size,
        swarm=_swarm_settings(_table(data, "swarm", config_path), env, config_path),
        oversubscribe=oversubscribe,
        runtime=runtime,
        source=config_path if data else None,
    )


def _swarm_settings(table: Mapping[str, Any], env: Mapping[str, str], path: Path) -> SwarmSettings:
    """`[swarm]` checked: constraints as Swarm writes them, an IP address to advertise."""
    constraints = table.get("constraints", [])
    if not isinstance(constraints, list) or not all(isinstance(c, str) for c in constraints):
        raise ConfigError(f"{path}: swarm.constraints must be a list of strings")
    for constraint in constraints:
        if not _CONSTRAINT.match(constraint):
            raise ConfigError(
                f"{path}: swarm constraint {constraint!r} is not of the form "
                "'node.labels.KEY==VALUE' (== or !=)"
            )
    address = env.get("LOCALBATCH_SWARM_ADVERTISE_ADDRESS") or str(
        table.get("advertise_address", "")
    )
    if address:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ConfigError(
                f"swarm advertise_address must be an IP address of this host, not {address!r}"
            ) from None
    return SwarmSettings(
        constraints=tuple(c.strip() for c in constraints),
        network=env.get("LOCALBATCH_SWARM_NETWORK") or str(table.get("network", "")),
        advertise_address=address,
    )


def _image_sources(table: Mapping[str, Any], path: Path) -> dict[str, str]:
    """`[image_sources]`: each value checked now, so a typo fails the start, not a job."""
    sources = {}
    for name, value in table.items():
        try:
            parse_image_file(str(value))
        except ValueError as exc:
            raise ConfigError(f"{path}: [image_sources] {name!r}: {exc}") from None
        sources[str(name)] = str(value)
    return sources


def _size(value: object, name: str) -> int:
    """A size in bytes: an integer, or a string such as "4GiB", "512 MB", "10g" (binary units)."""
    text = str(value).strip().lower().removesuffix("b").removesuffix("i").strip()
    unit = text[-1:] if text[-1:] in _SIZE_UNITS and not text[-1:].isdigit() else ""
    number = text[: len(text) - len(unit)].strip()
    if isinstance(value, bool) or not number.isdigit() or int(number) <= 0:
        raise ConfigError(f"{name} must be a positive size such as 4GiB or 500MiB, not {value!r}")
    return int(number) * _SIZE_UNITS[unit]


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _flag(value: object, name: str) -> bool:
    """A yes/no setting: a TOML boolean, or 1/true/yes/on and 0/false/no/off in a variable."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ConfigError(f"{name} must be true or false, not {value!r}")
