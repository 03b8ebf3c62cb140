"""Text a job brings (its programs' output, its error messages), made safe to print.

A program's output is hostile: written to a terminal as it is, escape sequences could
clear the screen, move the cursor over earlier lines, retitle the window, set the
clipboard (OSC 52), or hide text behind a carriage return or a right-to-left override.
So before anything of it is printed:

- CSI sequences (cursor, colour, erase: `ESC [ ... final`) and string sequences (OSC,
  DCS, APC, PM, SOS, up to BEL or ST) are removed, in their 7-bit and 8-bit forms;
- every other control character (C0 but TAB, DEL, C1) and the bidirectional overrides
  are shown escaped (`\\x1b`, `\\r`, `\\u202e`), so the user sees that they were there;
- bytes that are not UTF-8 are shown as `\\xff`; a CR ending a line (CRLF) is dropped.

The log files keep the bytes exactly as written; only what is printed is changed.
"""

from __future__ import annotations

import re

#: A quick look: lines of printable ASCII (and TAB) need no work at all.
_NEEDS_WORK = re.compile(rb"[^\t\x20-\x7e]")
#: Printable ASCII, TAB and newline: deleting them leaves nothing of ordinary output
#: (`bytes.translate` is many times quicker than a regular expression over a flood).
_PLAIN = bytes(range(0x20, 0x7F)) + b"\t\n"
#: Sequences removed whole: CSI (ESC [ or 0x9b), and strings up to BEL or ST (OSC, DCS,
#: SOS, PM, APC, 7-bit and 8-bit); an unterminated string runs to the end of the line.
_SEQUENCES = re.compile(
    "(?:\x1b\\[|\x9b)[0-?]*[ -/]*[@-~]?"
    "|(?:\x1b[\\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\\\|\x9c)?"
)
#: What is left that a terminal would act on, shown escaped.
_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\r": "\\r", "\n": "\\n", "\x1b": "\\x1b"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: str) -> str:
    """A string from a job (a message, a decoded line), made safe for a terminal."""
    return _CONTROLS.sub(_escape, _SEQUENCES.sub("", text))


def safe_line(line: bytes) -> str:
    """One line a program wrote (without its newline), made safe for a terminal."""
    if not _NEEDS_WORK.search(line):
        return line.decode("ascii")
    if line.endswith(b"\r"):
        line = line[:-1]
    return safe_text(line.decode("utf-8", "backslashreplace"))


def is_plain(data: bytes) -> bool:
    """Whether lines (joined by newlines) need no work: printable ASCII and TABs only. The
    fast path for floods of ordinary output."""
    return not data.translate(None, _PLAIN)
