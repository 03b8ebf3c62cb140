"""Stage the log-count example into the local OSS root, so that `localbatch run` finds it.

Packs worker/*.py into worker.tar.gz (at the archive's root, as `bcs sub -p` does) and
copies the sample logs, as `<oss root>/localbatch-demo/logcount/{worker.tar.gz,input/}`.
Results of an earlier run (shards, counts, result) are removed so a run starts clean.

Usage: python examples/logcount/stage.py [OSS_ROOT]
(default: the configured root, `localbatch.config.load_config().oss.root`).
"""

from __future__ import annotations

import io
import shutil
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUCKET = "localbatch-demo"
PREFIX = "logcount"
#: Written by the job; cleared before each run.
RESULT_FOLDERS = ("shards", "counts", "result")


def pack_worker(worker_dir: Path) -> bytes:
    """A reproducible tar.gz of the worker scripts (fixed times and owners)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(worker_dir.glob("*.py")):
            info = tarfile.TarInfo(path.name)
            data = path.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


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


def main(argv: list[str]) -> None:
    if argv:
        root = Path(argv[0])
    else:
        from localbatch.config import load_config

        root = load_config().oss.root
    folder = stage(root)
    print(f"staged oss://{BUCKET}/{PREFIX}/ (worker.tar.gz, input/) in {folder}")


if __name__ == "__main__":
    main(sys.argv[1:])
