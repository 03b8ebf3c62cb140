"""Which pages hold generated blocks, and how each block is rendered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from localbatch.docgen import catalogues, commands
from localbatch.docgen.headings import table_of_contents
from localbatch.docgen.markers import MarkerError, fill

#: The table of contents is rendered last, from the page's other content.
TOC = "toc"


def _command_group() -> click.Group:
    from localbatch.cli import main

    return main


RENDERERS: dict[str, Callable[[], str]] = {
    "commands": lambda: commands.command_table(_command_group()),
    "command-help": lambda: commands.command_help(_command_group()),
    "api-errors": catalogues.api_errors,
    "oss-errors": catalogues.oss_errors,
    "instance-types": catalogues.instance_types,
}


def pages(root: Path) -> list[Path]:
    """README.md and every page under docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def _block(name: str, body: str) -> str:
    if name == TOC:
        return body
    renderer = RENDERERS.get(name)
    if renderer is None:
        raise MarkerError(f"unknown generated block {name!r}")
    return renderer()


def render(text: str) -> str:
    """The page with every generated block brought up to date."""
    text = fill(text, _block)
    return fill(text, lambda name, body: table_of_contents(text) if name == TOC else body)


def stale(root: Path) -> list[Path]:
    """The pages whose generated blocks differ from what the code says now."""
    return [page for page in pages(root) if render(page.read_text()) != page.read_text()]


def write(root: Path) -> list[Path]:
    """Rewrite the stale pages; returns them."""
    changed = []
    for page in pages(root):
        old = page.read_text()
        new = render(old)
        if new != old:
            page.write_text(new)
            changed.append(page)
    return changed
