"""Stage the log-count example into the local OSS root, so that `localbatch run` finds it.

Packs worker/*.py into worker.tar.gz (at the archive's root, as `bcs sub -p` does) and
copies the sample logs, as `<oss root>/localbatch-demo/logcount/{worker.tar.gz,input/}`.
Results of an earlier run (shards, counts, result) are removed so a run starts clean.

Usage: python examples/logcount/stage.py [--config FILE] [--state-dir DIR] [--oss-root DIR]
The OSS root is resolved as `localbatch` resolves it (`load_config`: the flags, then the
environment, then the config file), so the job then run with the same options finds it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUCKET = "localbatch-demo"
PREFIX = "logcount"
#: Written by the job; cleared before each run.
RESULT_FOLDERS = ("shards", "counts", "result")


def pack_worker(worker_dir: Path) -> bytes:
    """A reproducible tar.gz of the worker scripts (fixed times and owners), packed as
    `localbatch init` packs its starter job."""
    from localbatch.starter.scaffold import pack

    return pack(sorted(worker_dir.glob("*.py")))


def stage(oss_root: Path) -> Path:
    """Write package and input under `oss_root`; answer the example's folder there."""
    folder = oss_root / BUCKET / PREFIX
    for name in RESULT_FOLDERS:
        shutil.rmtree(folder / name, ignore_errors=True)
    (folder / "input").mkdir(parents=True, exist_ok=True)
    (folder / "worker.tar.gz").write_bytes(pack_worker(HERE / "worker"))
    for log in sorted((HERE / "input").glob("*.log")):
        shutil.copyfile(log, folder / "input" / log.name)
    return folder


def parse_args(argv: list[str]) -> argparse.Namespace:
    """localbatch's own config options; anything else is refused (exit 2) with usage."""
    parser = argparse.ArgumentParser(
        prog="stage.py",
        description="Stage the log-count example (worker.tar.gz, input/) into the OSS root.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="Config file (default $LOCALBATCH_CONFIG or ~/.config/localbatch/config.toml).",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="Where jobs, logs and caches live (default ~/.local/share/localbatch).",
    )
    parser.add_argument(
        "--oss-root",
        type=Path,
        metavar="DIR",
        help="Local directory holding oss://bucket/key as <root>/bucket/key.",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    from localbatch.config import ConfigError, load_config

    args = parse_args(argv)
    try:
        config = load_config(args.config, state_dir=args.state_dir, oss_root=args.oss_root)
    except ConfigError as exc:
        print(f"stage.py: {exc}", file=sys.stderr)
        sys.exit(2)  # as localbatch exits on a config it cannot use
    folder = stage(config.oss.root)
    print(f"staged oss://{BUCKET}/{PREFIX}/ (worker.tar.gz, input/) in {folder}")


if __name__ == "__main__":
    main(sys.argv[1:])
