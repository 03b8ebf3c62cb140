"""The log-count example's staging and worker scripts, run in-process on temporary dirs."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLE = Path(__file__).parents[3] / "examples" / "logcount"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"logcount_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expected_levels() -> dict[str, int]:
    levels: Counter[str] = Counter()
    for log in (EXAMPLE / "input").glob("*.log"):
        levels.update(line.split()[1] for line in log.read_text().splitlines())
    return dict(levels)


def test_stage_writes_package_and_input_and_clears_old_results(tmp_path: Path) -> None:
    stage = load(EXAMPLE / "stage.py")
    stale = tmp_path / "localbatch-demo/logcount/result/result.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    folder = stage.stage(tmp_path)
    assert folder == tmp_path / "localbatch-demo" / "logcount"
    assert not stale.exists()
    with tarfile.open(folder / "worker.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["count.py", "merge.py", "split.py"]
    assert sorted(p.name for p in (folder / "input").iterdir()) == ["web-1.log", "web-2.log"]
    assert stage.pack_worker(EXAMPLE / "worker") == stage.pack_worker(EXAMPLE / "worker")


def test_stage_resolves_the_oss_root_like_localbatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOCALBATCH_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("LOCALBATCH_OSS_ROOT", raising=False)
    stage = load(EXAMPLE / "stage.py")
    stage.main(["--state-dir", str(tmp_path / "state")])
    from localbatch.config import load_config

    root = load_config(state_dir=tmp_path / "state").oss.root
    assert (root / "localbatch-demo/logcount/worker.tar.gz").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]  # no ./--state-dir
    stage.main(["--oss-root", str(tmp_path / "oss")])
    assert (tmp_path / "oss/localbatch-demo/logcount/input/web-1.log").is_file()
    capsys.readouterr()


@pytest.mark.parametrize("argv", [["--bogus"], ["some/root"], ["--config", "."]])
def test_stage_refuses_what_it_does_not_know_with_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        load(EXAMPLE / "stage.py").main(argv)
    assert exited.value.code == 2
    assert "stage.py" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_split_count_merge_add_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "workdir"
    archive = load(EXAMPLE / "stage.py").pack_worker(EXAMPLE / "worker")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(package, filter="data")
    split, count, merge = (load(package / f"{name}.py") for name in ("split", "count", "merge"))

    sizes = split.split(EXAMPLE / "input", tmp_path / "shards", 3)
    assert sum(sizes) == 75 and len(sizes) == 3

    for instance in range(3):
        monkeypatch.setattr(count, "INPUT_DIR", tmp_path / "shards")
        monkeypatch.setattr(count, "OUTPUT_DIR", tmp_path / "counts")
        monkeypatch.setenv("BATCH_COMPUTE_DAG_INSTANCE_ID", str(instance))
        count.main()
    assert len(list((tmp_path / "counts").glob("count-*.json"))) == 3

    monkeypatch.setattr(merge, "INPUT_DIR", tmp_path / "counts")
    monkeypatch.setattr(merge, "OUTPUT_DIR", tmp_path / "result")
    merge.main()
    result = json.loads((tmp_path / "result" / "result.json").read_text())
    assert result == expected_levels()
