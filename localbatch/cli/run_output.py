"""Where `localbatch run` writes while a job runs: progress lines and program output.

Two screens, one interface (`write` for whole lines of text, `output` for bytes of whole
lines). `PlainScreen` (not a terminal: a pipe, a file, CI) writes lines in order, nothing
else. `TerminalScreen` keeps a live footer (the progress table) below what scrolls: before
lines are written the footer is erased, after them it is drawn again, so program output and
the table never overwrite each other; while it is shown, `sys.stdout` and `sys.stderr` go
through it too (notices, warnings). Writes are whole lines under one lock: lines of two
instances never mix.

`OutputPrinter` turns the blocks of `application.live_output` into lines:
`task.N | text` for stdout, `task.N ! text` for stderr, `task.N retry 2 | text` for a
later attempt; on a terminal the prefix has one stable colour per instance. Text is made
safe first (`terminal_text`).
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import threading
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import IO, Any

from rich.console import Console, RenderableType

from localbatch.application.live_output import OutputBlock, OutputFollower, OutputSource
from localbatch.cli.terminal_text import is_plain, safe_line
from localbatch.events import EventBus

#: Colours of instance prefixes (ANSI SGR), picked by a hash of `task.N`: stable across runs.
PALETTE = ("36", "32", "33", "35", "34", "96", "92", "93", "95", "94")
STDERR_MARK = "!"
STDOUT_MARK = "|"
#: Appended to a line cut by the follower.
CUT_NOTE = " [line cut here; the log file has all of it]"
_RESET = "\x1b[0m"


class Screen(ABC):
    """The screens' one interface: a text stream (`sys.stdout` may be one) over `output`."""

    def write(self, text: str) -> int:
        """Whole lines of text (a progress line, a notice)."""
        self.output(text.encode("utf-8", "backslashreplace"))
        return len(text)

    def flush(self) -> None:  # noqa: B027 (nothing to do, on purpose)
        """Every write is flushed already."""

    @abstractmethod
    def output(self, data: bytes) -> None:
        """Bytes of whole lines, written at once."""


class PlainScreen(Screen):
    """Lines to a stream as they come: for pipes, files and CI logs."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def output(self, data: bytes) -> None:
        with self._lock:
            self._stream.write(data)
            self._stream.flush()


class TerminalScreen(Screen):
    """Scrolling lines above a live footer redrawn a few times a second."""

    def __init__(
        self,
        console: Console,
        render: Callable[[], RenderableType],
        stream: IO[bytes] | None = None,
        refresh: float = 0.25,
    ) -> None:
        self.console = console
        self.render = render
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._refresh = refresh
        self._lock = threading.RLock()
        self._drawn = 0
        #: The footer as last rendered (rendering is the costly part: a few times a second).
        self._footer: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved: tuple[Any, Any] | None = None

    # -- what scrolls --------------------------------------------------------------------------
    def output(self, data: bytes) -> None:
        with self._lock:
            self._stream.write(self._erase() + data + self._draw())
            self._stream.flush()

    # -- the footer -----------------------------------------------------------------------
    def _erase(self) -> bytes:
        """Back to where the footer begins, and clear to the end of the screen. The cursor
        waits on the line below the footer, so what the terminal echoes there (`^C`) never
        makes the footer's last line wrap."""
        if not self._drawn:
            return b""
        up, self._drawn = self._drawn, 0
        return f"\r\x1b[{up}A\x1b[J".encode()

    def _draw(self) -> bytes:
        if self._stop.is_set() or not self._footer:
            return b""
        self._drawn = len(self._footer)
        return "\n".join(self._footer).encode() + b"\n"

    def _render(self) -> list[str]:
        """The footer's lines, fitted to the terminal (a line that wrapped would break the
        erasing, a footer taller than the terminal too)."""
        size = shutil.get_terminal_size()
        buffer = io.StringIO()
        painter = Console(
            file=buffer,
            width=size.columns,
            force_terminal=True,
            color_system="auto" if self.console.color_system else None,
            no_color=self.console.no_color,
            highlight=False,
        )
        painter.print(self.render(), crop=True, overflow="crop", no_wrap=True)
        return buffer.getvalue().rstrip("\n").split("\n")[: max(1, size.lines - 2)]

    def redraw(self) -> None:
        """Render the footer again and show it."""
        footer = self._render()
        with self._lock:
            self._footer = footer
            self.output(b"")

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self._refresh):
            self.redraw()

    def __enter__(self) -> TerminalScreen:
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = _LineWriter(self)
        sys.stderr = _LineWriter(self)
        self._stream.write(b"\x1b[?25l")  # no cursor blinking over the table
        self.redraw()
        self._thread = threading.Thread(target=self._refresh_loop, name="screen", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._stream.write(self._erase() + b"\x1b[?25h")
            self._stream.flush()
        if self._saved is not None:
            for writer in (sys.stdout, sys.stderr):
                if isinstance(writer, _LineWriter):
                    writer.close()
            sys.stdout, sys.stderr = self._saved


class _LineWriter(io.TextIOBase):
    """`sys.stdout`/`sys.stderr` while a footer is shown: whole lines go above it."""

    def __init__(self, screen: TerminalScreen) -> None:
        self._screen = screen
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            lines, _, self._pending = self._pending.rpartition("\n")
            self._screen.write(lines + "\n")
        return len(text)

    def isatty(self) -> bool:
        return True

    def close(self) -> None:
        if self._pending:
            self._screen.write(self._pending + "\n")
            self._pending = ""
        super().close()


class OutputPrinter:
    """Prefixes, marks and (on a terminal) colours each line of program output."""

    def __init__(
        self, screen: PlainScreen | TerminalScreen, *, colour: bool, width: int = 0
    ) -> None:
        self.screen = screen
        self.colour = colour
        #: Prefixes are padded to this many characters, so the text lines up.
        self.width = width
        self._prefixes: dict[OutputSource, bytes] = {}

    def __call__(self, block: OutputBlock) -> None:
        prefix = self._prefix(block.source)
        if not block.cut and is_plain(block.data):
            data = prefix + block.data.replace(b"\n", b"\n" + prefix) + b"\n"
        else:
            parts = []
            for index, line in enumerate(block.lines):
                text = safe_line(line)
                if index in block.cut:
                    text += self._dim(CUT_NOTE)
                parts.append(prefix + text.encode() + b"\n")
            data = b"".join(parts)
        self.screen.output(data)

    def _prefix(self, source: OutputSource) -> bytes:
        known = self._prefixes.get(source)
        if known is None:
            name = f"{source.task_name}.{source.instance_id}"
            if source.attempt:
                name += f" retry {source.attempt}"
            mark = STDERR_MARK if source.stream == "stderr" else STDOUT_MARK
            name = name.ljust(self.width)
            if self.colour:
                colour = PALETTE[
                    zlib.crc32(f"{source.task_name}.{source.instance_id}".encode()) % len(PALETTE)
                ]
                mark_colour = "1;31" if source.stream == "stderr" else colour
                text = f"\x1b[{colour}m{name}{_RESET} \x1b[{mark_colour}m{mark}{_RESET} "
            else:
                text = f"{name} {mark} "
            known = self._prefixes[source] = text.encode()
        return known

    def _dim(self, text: str) -> str:
        return f"\x1b[2m{text}{_RESET}" if self.colour else text


def follow_output(
    bus: EventBus,
    instance_counts: dict[str, int],
    screen: PlainScreen | TerminalScreen,
    console: Console,
) -> OutputFollower:
    """Show every line the programs write, as they write it (`OutputFollower`), on
    `screen`; subscribe it before the progress display, so that an attempt's lines come
    before the line saying it ended. The caller closes it."""
    printer = OutputPrinter(
        screen, colour=colour_wanted(console), width=prefix_width(instance_counts)
    )
    follower = OutputFollower(printer).start()
    bus.subscribe(follower)
    return follower


def prefix_width(instance_counts: dict[str, int]) -> int:
    """The widest `task.N` of a job (its prefixes are padded to it), capped at 24."""
    widths = [len(f"{name}.{count - 1}") for name, count in instance_counts.items() if count]
    return min(max(widths, default=0), 24)


def colour_wanted(console: Console) -> bool:
    """Colours on a terminal, unless NO_COLOR asks for none."""
    return (
        console.is_terminal and not os.environ.get("NO_COLOR") and console.color_system is not None
    )
