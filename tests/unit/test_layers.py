"""The structure cannot rot: every import of the package points down the layers.

surfaces (cli, server) -> application -> engine -> runtimes / storage / store / listeners
-> events, plan -> spec, config. Read from the source with `ast`, nothing imported.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from localbatch.runtime.registry import RUNTIMES

PACKAGE = Path(__file__).resolve().parents[2] / "localbatch"

#: Layer of each module (longest matching package wins); a module imports only from its
#: own layer or lower ones. A new top-level module or package gets its line here.
LAYERS = {
    "localbatch": 0,  # the package itself only: its public API, the spec functions
    "localbatch.config": 0,
    "localbatch.states": 0,
    "localbatch.ids": 0,
    "localbatch.timefmt": 0,
    "localbatch.usage": 0,
    "localbatch.owner": 0,
    "localbatch.beneath": 0,
    "localbatch.fdcopy": 0,
    "localbatch.tempfiles": 0,
    "localbatch.diskspace": 0,
    "localbatch.unwritable": 0,
    "localbatch.spec": 0,
    "localbatch.plan": 1,
    "localbatch.events": 1,
    "localbatch.store": 2,
    "localbatch.storage": 2,
    "localbatch.ossendpoint": 2,
    "localbatch.runtime": 2,
    "localbatch.images": 2,  # where images come from, for the runtimes
    "localbatch.events.notify": 3,  # a listener: it reads the store
    "localbatch.starter": 3,  # the job `init` writes, staged through storage
    "localbatch.engine": 4,
    "localbatch.application": 5,
    "localbatch.report": 5,  # a use case of the stored jobs, and a listener of the stack
    "localbatch.cli": 6,
    "localbatch.server": 6,
    "localbatch.__main__": 6,
    "localbatch.docgen": 7,  # writes the documents from the code, the commands included
}
SURFACES = ("localbatch.cli", "localbatch.server")
#: What other layers may use of `localbatch.runtime`; a runtime's own modules stay inside.
RUNTIME_PUBLIC = {"base", "registry", "select", "images", "image_supply"}
RUNTIME_NAMES = {entry.name for entry in RUNTIMES}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    #: Under `if TYPE_CHECKING:`: names a type, runs nothing.
    typing_only: bool

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.imported}"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in PACKAGE.rglob("*.py")}


def _is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _typing_blocks(tree: ast.Module) -> set[int]:
    """Ids of the import nodes inside `if TYPE_CHECKING:` blocks."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found |= {id(inner) for stmt in node.body for inner in ast.walk(stmt)}
    return found


def imports(name: str, tree: ast.Module) -> Iterator[Import]:
    typing_only = _typing_blocks(tree)
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{name}: relative import"
            for alias in node.names:  # `from localbatch.server import shapes` is a module
                child = f"{node.module}.{alias.name}"
                targets.append(child if _is_module(child) else node.module)
        for target in targets:
            yield Import(name, target, getattr(node, "lineno", 0), id(node) in typing_only)


def layer(module: str) -> int:
    """The layer of a module; KeyError for one no line of LAYERS places."""
    if module == "localbatch":
        return LAYERS[module]
    owners = [p for p in LAYERS if p != "localbatch" and within(module, p)]
    if not owners:
        raise KeyError(f"{module} has no layer: give it one in LAYERS")
    return LAYERS[max(owners, key=len)]


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.fixture(scope="module")
def all_imports() -> list[Import]:
    return [found for name, tree in modules().items() for found in imports(name, tree)]


def own(found: list[Import]) -> list[Import]:
    return [i for i in found if within(i.imported, "localbatch")]


def test_every_module_has_a_layer() -> None:
    for name in modules():
        layer(name)  # raises for a module outside every layer


def test_imports_point_down_the_layers(all_imports: list[Import]) -> None:
    upward = [str(i) for i in own(all_imports) if layer(i.imported) > layer(i.importer)]
    assert upward == []


def test_storage_describes_and_imports_no_runtime(all_imports: list[Import]) -> None:
    found = [
        str(i)
        for i in all_imports
        if within(i.importer, "localbatch.storage") and within(i.imported, "localbatch.runtime")
    ]
    assert found == []


def test_only_runtimes_import_docker_or_their_own_modules(all_imports: list[Import]) -> None:
    outside = [i for i in all_imports if not within(i.importer, "localbatch.runtime")]
    sdk = [str(i) for i in outside if within(i.imported, "docker")]
    private = [
        str(i)
        for i in outside
        if within(i.imported, "localbatch.runtime")
        and i.imported.split(".")[2:3] not in ([], *([p] for p in RUNTIME_PUBLIC))
    ]
    assert sdk == [] and private == []


def test_no_module_outside_runtime_spells_a_runtime_name() -> None:
    spelled = [
        f"{name}:{node.lineno} {node.value!r}"
        for name, tree in modules().items()
        if not within(name, "localbatch.runtime")
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in RUNTIME_NAMES
    ]
    assert spelled == []


def test_surfaces_reach_the_engine_only_through_the_application(
    all_imports: list[Import],
) -> None:
    found = [
        str(i)
        for i in all_imports
        if any(within(i.importer, s) for s in SURFACES)
        and within(i.imported, "localbatch.engine")
        and not i.typing_only
    ]
    assert found == []


def test_the_rules_see_what_they_forbid() -> None:
    """The walk finds imports at any depth, `from package import module`, and
    TYPE_CHECKING blocks: each rule above would see a violation."""
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "from localbatch.server import shapes\n"
        "def f():\n"
        "    import docker\n"
        "if TYPE_CHECKING:\n"
        "    from localbatch.engine.service import Engine\n"
    )
    found = {(i.imported, i.typing_only) for i in imports("localbatch.storage.x", tree)}
    assert ("localbatch.server.shapes", False) in found
    assert ("docker", False) in found
    assert ("localbatch.engine.service", True) in found
    assert layer("localbatch.server.shapes") > layer("localbatch.storage.x")
