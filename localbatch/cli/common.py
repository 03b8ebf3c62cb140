"""What every command shares: the config options, loading the config, and exit codes."""

from __future__ import annotations

import functools
import shlex
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from localbatch.config import Config, ConfigError, load_config
from localbatch.diskspace import explain, unwritable_cause
from localbatch.unwritable import StoreUnwritable

if TYPE_CHECKING:
    from localbatch.application.stack import LocalService
    from localbatch.runtime.base import Runtime
    from localbatch.spec.errors import ApiError
    from localbatch.store import Store

# Exit statuses, in one place.
EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_JOB_FAILED = 3
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])


#: Where the main group keeps --config, --state-dir and --oss-root given before the command.
GLOBAL_OPTIONS = "localbatch.global_options"
#: The three as the command uses them (before or after its name).
CHOSEN_OPTIONS = "localbatch.chosen_options"
OPTION_FLAGS = {"config_path": "--config", "state_dir": "--state-dir", "oss_root": "--oss-root"}


def _shared_options(func: F) -> F:
    """--config, --state-dir and --oss-root, for the main group and for every command."""
    func = click.option(
        "--oss-root",
        type=click.Path(file_okay=False, path_type=Path),
        help="Local directory holding oss://bucket/key as <root>/bucket/key.",
    )(func)
    func = click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where jobs, logs and caches live (default ~/.local/share/localbatch).",
    )(func)
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Config file (default $LOCALBATCH_CONFIG or ~/.config/localbatch/config.toml).",
    )(func)


def global_options(func: F) -> F:
    """The shared options on the main group: `localbatch --state-dir D jobs` works too."""

    @_shared_options
    @functools.wraps(func)
    def wrapper(*args: Any, **options: Any) -> Any:
        click.get_current_context().meta[GLOBAL_OPTIONS] = {
            name: options.pop(name) for name in ("config_path", "state_dir", "oss_root")
        }
        return func(*args, **options)

    return wrapper  # type: ignore[return-value]


def config_options(func: F) -> F:
    """Add --config, --state-dir and --oss-root; the command receives `config: Config`.

    Each falls back to the same option given before the command name; the one after it wins.
    """

    @_shared_options
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        config_path: Path | None,
        state_dir: Path | None,
        oss_root: Path | None,
        **kwargs: Any,
    ) -> Any:
        meta = click.get_current_context().meta
        given = meta.get(GLOBAL_OPTIONS, {})
        chosen = {
            "config_path": config_path or given.get("config_path"),
            "state_dir": state_dir or given.get("state_dir"),
            "oss_root": oss_root or given.get("oss_root"),
        }
        meta[CHOSEN_OPTIONS] = chosen
        try:
            config = load_config(
                chosen["config_path"], state_dir=chosen["state_dir"], oss_root=chosen["oss_root"]
            )
        except ConfigError as exc:
            fail(str(exc))
        return func(*args, config=config, **kwargs)

    return wrapper  # type: ignore[return-value]


def given_options() -> str:
    """The --config/--state-dir/--oss-root this command was given, as a shell would repeat
    them (`--oss-root /x`), for the follow-up commands a command suggests."""
    chosen = click.get_current_context().meta.get(CHOSEN_OPTIONS, {})
    return " ".join(
        f"{OPTION_FLAGS[name]} {shlex.quote(str(value))}"
        for name, value in chosen.items()
        if value is not None
    )


#: What opening a state directory's store raises when the directory cannot be used.
STATE_DIR_ERRORS: tuple[type[Exception], ...] = (OSError, sqlite3.Error, StoreUnwritable)


def state_dir_unusable(config: Config, exc: Exception) -> NoReturn:
    """Exit with why the state directory cannot be used (full, read-only, cannot be created,
    no permission, not a database), never a traceback."""
    reason = exc.cause if isinstance(exc, StoreUnwritable) else explain(config.state_dir, exc)
    fail(f"cannot use the state directory {config.state_dir}: {reason}")


def check_oss_root(config: Config) -> None:
    """Commands that run jobs write to the local OSS root (logs, outputs): a full, read-only
    or unwritable one is one line and exit 2 before anything starts."""
    if config.oss.remote:
        return
    cause = unwritable_cause(config.oss.root)
    if cause:
        fail(f"cannot use the OSS root {config.oss.root}: {cause}")


def open_store(config: Config) -> Store:
    """The job store of the state directory, or a clear exit when it cannot be used."""
    from localbatch.store import Store

    try:
        return Store.open(config.state_dir)
    except STATE_DIR_ERRORS as exc:
        state_dir_unusable(config, exc)


def open_local(
    config: Config, runtime: Runtime | None, *, endpoint_hint: str = "", **options: Any
) -> LocalService:
    """This process's own local stack on the state directory (`open_local_service`
    `options`), or a clear exit (with `endpoint_hint` when the instances' OSS endpoint
    cannot be started)."""
    from localbatch.application.stack import InstanceEndpointUnavailable, open_local_service
    from localbatch.cli.server_logs import quiet_bad_requests

    if runtime is not None:
        quiet_bad_requests()  # an instance sending garbage gets its 400, not a traceback here
    try:
        return open_local_service(config, runtime, **options)
    except STATE_DIR_ERRORS as exc:
        state_dir_unusable(config, exc)
    except InstanceEndpointUnavailable as exc:
        fail(f"cannot start the OSS endpoint for the instances ({exc}){endpoint_hint}")
    except ConfigError as exc:
        fail(str(exc))


#: What `--runtime` says of its default (the config's `runtime`).
RUNTIME_DEFAULT_HELP = "Default: the config's `runtime` (LOCALBATCH_RUNTIME), else auto."


def runtime_name(choice: str | None, config: Config) -> str:
    """The runtime asked for: `--runtime` when given, else the config's `runtime`."""
    return choice or config.runtime


def choose_runtime(config: Config, choice: str | None, *, pull: bool = False) -> Runtime:
    """The runtime `--runtime` names (else the config's `runtime`), allowed to pull images
    with `pull`, its notice said on stderr; a clear exit when it cannot be used here."""
    from localbatch.application.runtime_choice import allow_pulls, select_sparing_runtime
    from localbatch.runtime.base import RuntimeUnavailable

    try:
        runtime, notice = select_sparing_runtime(runtime_name(choice, config), config)
        if pull:
            allow_pulls(runtime)
    except (RuntimeUnavailable, ValueError) as exc:
        where = "" if choice else " (the config's runtime)"
        fail(f"{exc}{where}")
    click.echo(notice, err=True)
    return runtime


def fail(message: str, status: int = EXIT_USAGE) -> NoReturn:
    """Print a diagnostic to stderr and exit; never a traceback."""
    click.echo(f"localbatch: {message}", err=True)
    sys.exit(status)


def api_error_exit(error: ApiError) -> NoReturn:
    """The service's error in one line; an unknown job (or task, instance) is a usage error."""
    fail(f"{error.code}: {error.message}", EXIT_USAGE if error.http_status == 404 else EXIT_INVALID)


def resolved_job_id(store: Store, typed: str) -> str:
    """The full id of the job `typed` names (`last`, a unique prefix), or a clear exit."""
    from localbatch.spec.errors import ApiError
    from localbatch.store.job_ids import AmbiguousJobId, resolve_job_id

    try:
        return resolve_job_id(store, typed)
    except AmbiguousJobId as exc:
        fail(str(exc))
    except ApiError as error:
        api_error_exit(error)


__all__ = ["Config", "config_options", "fail"]
