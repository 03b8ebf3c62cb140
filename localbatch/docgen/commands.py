"""The command list: README's table of commands and docs/commands.md's full help texts.

Both are read from the click commands themselves, so a new command or option shows up in
the documentation the moment `make docs` runs (and a test fails until it does).
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from localbatch.docgen.headings import slug

#: Help is wrapped at this width, whatever the terminal that runs the generator.
WIDTH = 100

#: The page (relative to the repository) that explains a command family, in the order
#: README's table lists them; a command not listed here comes last, documented by its help
#: text in docs/commands.md alone.
SUBJECT_PAGES = {
    "init": ("first job", "docs/writing-jobs.md#start-from-localbatch-init"),
    "validate": ("validation", "docs/validation.md"),
    "plan": ("validation", "docs/validation.md#plan"),
    "schema": ("validation", "docs/validation.md#schema"),
    "instance-types": ("instance types", "docs/writing-jobs.md#instance-types"),
    "run": ("running", "docs/running.md"),
    "images": ("images", "docs/images.md"),
    "serve": ("job service", "docs/service.md"),
    "submit": ("job commands", "docs/service.md#job-commands"),
    "jobs": ("job commands", "docs/service.md#job-commands"),
    "status": ("job commands", "docs/service.md#job-commands"),
    "logs": ("job commands", "docs/service.md#job-commands"),
    "report": ("run reports", "docs/reports.md"),
    "stop": ("job commands", "docs/service.md#job-commands"),
    "start": ("job commands", "docs/service.md#job-commands"),
    "delete": ("job commands", "docs/service.md#job-commands"),
    "priority": ("job commands", "docs/service.md#job-commands"),
    "oss": ("storage", "docs/storage.md#inspecting-oss-from-the-shell-localbatch-oss"),
    "oss-serve": ("OSS endpoint", "docs/oss-endpoint.md"),
}


def _context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    settings = {**command.context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    return click.Context(command, info_name=name, parent=parent, **settings)


def commands_below(
    group: click.Group, parent: click.Context | None = None, *, groups: bool = False
) -> Iterator[tuple[click.Context, click.Command]]:
    """(context, command) for every command below `group`, in `--help` order.

    Groups themselves are included (before their commands) only with `groups=True`.
    """
    context = parent or _context(group, "localbatch", None)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if command is None or command.hidden:
            continue
        sub = _context(command, name, context)
        if isinstance(command, click.Group):
            if groups:
                yield sub, command
            yield from commands_below(command, sub, groups=groups)
        else:
            yield sub, command


def _arguments(context: click.Context) -> str:
    pieces = context.command.collect_usage_pieces(context)
    return " ".join(piece for piece in pieces if piece != "[OPTIONS]")


def _top_name(context: click.Context) -> str:
    while context.parent is not None and context.parent.parent is not None:
        context = context.parent
    return context.info_name or ""


def command_table(group: click.Group) -> str:
    """README's table: each command with its arguments, its one-line help, where to read on."""
    rows = ["| command | what it does | more |", "|---|---|---|"]
    order = list(SUBJECT_PAGES)

    def place(entry: tuple[click.Context, click.Command]) -> int:
        name = _top_name(entry[0])
        return order.index(name) if name in order else len(order)

    for context, command in sorted(commands_below(group), key=place):
        usage = f"{context.command_path} {_arguments(context)}".strip().replace("|", "\\|")
        summary = command.get_short_help_str(limit=200).replace("|", "\\|")
        reference = f"[help](docs/commands.md#{slug(context.command_path)})"
        subject = SUBJECT_PAGES.get(_top_name(context))
        more = f"[{subject[0]}]({subject[1]}), {reference}" if subject else reference
        rows.append(f"| `{usage}` | {summary} | {more} |")
    return "\n".join(rows)


def command_help(group: click.Group) -> str:
    """docs/commands.md's body: one section per command with its complete `--help`."""
    top = _context(group, "localbatch", None)
    sections = []
    for context, command in [(top, group), *commands_below(group, top, groups=True)]:
        help_text = command.get_help(context).rstrip()
        sections.append(f"## {context.command_path}\n\n```\n{help_text}\n```")
    return "\n\n".join(sections)
