"""`localbatch images build|list` against the real engine, and the default image's recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from localbatch.cli import main
from localbatch.runtime.images import IMAGE_PATH, RECIPE_LABEL, RECIPE_VERSION, build_default_image

pytestmark = pytest.mark.docker


def _invoke(tmp_path: Path, *args: str, config: str = "") -> Any:
    config_file = tmp_path / "config.toml"
    config_file.write_text(config)
    return CliRunner().invoke(
        main, ["images", *args, "--config", str(config_file), "--state-dir", str(tmp_path)]
    )


def _rows(output: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in output.splitlines()}


def test_list_shows_each_image_id_where_it_comes_from_and_its_readiness(
    docker_client: Any, default_image: str, default_rootfs: str, tmp_path: Path
) -> None:
    config = '[images]\nimg-custom = "localbatch/absent:0"\n'
    result = _invoke(tmp_path, "list", config=config)
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert rows["IMAGE"] == ["ID", "IMAGE", "DOCKER", "PROCESS", "SOURCE"]
    assert rows["img-ubuntu"][:3] == [default_image, "present", "ready"]
    assert rows["img-custom"][:3] == ["localbatch/absent:0", "missing", "missing"]
    assert "nowhere yet: load it (`docker load" in result.output


def test_list_says_when_programs_see_the_host_files(
    docker_client: Any, default_image: str, tmp_path: Path
) -> None:
    result = _invoke(tmp_path, "list", config='[sandbox]\nfiles = "host"\n')
    assert _rows(result.output)["img-ubuntu"][2:4] == ["host", "files"]


def test_build_is_a_no_op_when_both_forms_exist(
    docker_client: Any, default_image: str, default_rootfs: str, tmp_path: Path
) -> None:
    result = _invoke(tmp_path, "build")
    assert result.exit_code == 0, result.output
    assert f"{default_image}: Docker image already present" in result.output
    assert f"{default_image}: process runtime root file system already present" in result.output
    assert build_default_image(docker_client, default_image) is False


def test_the_default_image_records_its_recipe_and_runs_python(
    docker_client: Any, default_image: str
) -> None:
    config = docker_client.api.inspect_image(default_image)["Config"]
    assert config["Labels"][RECIPE_LABEL] == RECIPE_VERSION
    assert f"PATH={IMAGE_PATH}" in config["Env"]
    output = docker_client.containers.run(
        default_image, ["python", "-c", "print('py ok')"], remove=True
    )
    assert output == b"py ok\n"


def test_list_without_an_engine_still_answers_for_the_process_runtime(
    default_rootfs: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    result = _invoke(tmp_path, "list")
    assert result.exit_code == 0, result.output
    assert "no Docker engine answers" in result.output
    assert _rows(result.output)["img-ubuntu"][1:4] == ["no", "engine", "ready"]
    assert "Traceback" not in result.output and "FileNotFoundError" not in result.output
