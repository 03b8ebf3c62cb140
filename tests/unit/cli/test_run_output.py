"""Program output as `localbatch run` prints it: prefixes, marks, colours, and nothing a
program writes can act on the terminal (checked on an emulated terminal, pyte)."""

from __future__ import annotations

import io
import re

import pyte
import pytest
from rich.console import Console
from rich.text import Text

from localbatch.application.live_output import OutputBlock, OutputSource
from localbatch.cli.run_output import (
    CUT_NOTE,
    OutputPrinter,
    PlainScreen,
    TerminalScreen,
    prefix_width,
)
from localbatch.cli.terminal_text import is_plain, safe_line, safe_text

#: What hostile programs write: clear the screen, move the cursor home and overwrite,
#: retitle the window, set the clipboard, hide text behind CR or BS, reverse text, ring.
HOSTILE = [
    b"\x1b[2J\x1b[Hwiped",
    b"\x1b]0;owned title\x07after-title",
    b"\x1b]52;c;ZXZpbA==\x1b\\after-clipboard",
    b"innocent\rEVIL",
    b"abc\x08\x08\x08XYZ",
    "\u202eright-to-left".encode(),
    b"\xc2\x9b2J8-bit-csi",
    b"\x1bPdevice\x1b\\after-dcs",
    b"\x07\x00\x7f\xff\xfe binary",
]


def _block(lines: list[bytes], stream: str = "stdout", attempt: int = 0) -> OutputBlock:
    return OutputBlock(OutputSource("count", 1, attempt, stream), b"\n".join(lines))


def test_lines_get_their_prefix_mark_and_retry() -> None:
    buffer = io.BytesIO()
    printer = OutputPrinter(PlainScreen(buffer), colour=False, width=8)
    printer(_block([b"one", b"two"]))
    printer(_block([b"boom"], "stderr", attempt=2))
    assert buffer.getvalue().decode().splitlines() == [
        "count.1  | one",
        "count.1  | two",
        "count.1 retry 2 ! boom",
    ]


def test_a_cut_line_says_so() -> None:
    buffer = io.BytesIO()
    printer = OutputPrinter(PlainScreen(buffer), colour=False)
    printer(OutputBlock(OutputSource("t", 0, 0, "stdout"), b"x" * 10 + b"\nok", frozenset({0})))
    assert buffer.getvalue().decode().splitlines() == [f"t.0 | {'x' * 10}{CUT_NOTE}", "t.0 | ok"]


def test_colours_are_stable_per_instance_and_stderr_is_red() -> None:
    buffer = io.BytesIO()
    printer = OutputPrinter(PlainScreen(buffer), colour=True)
    printer(_block([b"a"]))
    printer(_block([b"b"]))
    printer(_block([b"c"], "stderr"))
    lines = buffer.getvalue().decode().splitlines()
    colour = re.match(r"\x1b\[(\d+)m", lines[0])
    assert colour is not None and lines[1].startswith(colour.group(0))
    assert "\x1b[1;31m!" in lines[2]
    other = io.BytesIO()
    OutputPrinter(PlainScreen(other), colour=True)(_block([b"a"]))
    assert other.getvalue().decode().splitlines()[0] == lines[0]  # the same in another run


def test_a_program_cannot_act_on_the_terminal() -> None:
    screen = pyte.Screen(100, 30)
    stream = pyte.ByteStream(screen)
    buffer = io.BytesIO()
    printer = OutputPrinter(PlainScreen(buffer), colour=True)
    stream.feed(b"before\r\n")
    printer(_block(HOSTILE))
    stream.feed(buffer.getvalue().replace(b"\n", b"\r\n"))
    shown = [line.rstrip() for line in screen.display]
    assert shown[0] == "before"  # not wiped, not overwritten
    assert screen.title == ""  # not retitled
    text = "\n".join(shown)
    for visible in ("wiped", "after-title", "after-clipboard", "after-dcs", "8-bit-csi"):
        assert visible in text
    assert "innocent\\rEVIL" in text and "abc\\x08\\x08\\x08XYZ" in text
    assert "\\u202eright-to-left" in text
    assert "\\x07\\x00\\x7f\\xff\\xfe binary" in text
    assert "ZXZpbA==" not in text
    assert screen.cursor.y == len(HOSTILE) + 1 and screen.cursor.x == 0


@pytest.mark.parametrize("line", HOSTILE)
def test_safe_lines_hold_no_control_character(line: bytes) -> None:
    text = safe_line(line)
    assert not re.search("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)


def test_text_and_blocks() -> None:
    assert safe_line(b"crlf\r") == "crlf"
    assert safe_line("café\tok".encode()) == "café\tok"
    assert safe_text("job \x1b]8;;http://x\x07name\x1b]8;;\x07") == "job name"
    assert is_plain(b"a\nb c\td") and is_plain(b"")
    assert not is_plain(b"a\n\x1b") and not is_plain("café".encode()) and not is_plain(b"\r")
    assert prefix_width({"count": 12, "merge": 1}) == len("count.11")


def test_the_terminal_screen_keeps_its_footer_below_the_lines() -> None:
    term = pyte.Screen(60, 12)
    stream = pyte.ByteStream(term)
    buffer = io.BytesIO()
    state = {"n": 0}

    def render() -> Text:
        state["n"] += 1
        return Text(f"footer {state['n']}\nsecond footer line")

    console = Console(file=io.StringIO(), force_terminal=True, width=60)
    with TerminalScreen(console, render, stream=buffer, refresh=3600) as screen:
        screen.output(b"line one\n")
        screen.write("line two\n")
        print("printed while the footer is shown")
        screen.redraw()
        fed = len(buffer.getvalue())
        stream.feed(buffer.getvalue().replace(b"\n", b"\r\n"))
        shown = [line.rstrip() for line in term.display if line.strip()]
        assert shown == [
            "line one",
            "line two",
            "printed while the footer is shown",
            "footer 2",
            "second footer line",
        ]
    stream.feed(buffer.getvalue()[fed:].replace(b"\n", b"\r\n"))
    assert [line.rstrip() for line in term.display if line.strip()] == shown[:3]  # footer gone
