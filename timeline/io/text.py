"""Characters that must not reach a terminal or a CSV cell raw: found in input, escaped on output.

Input files may not hold control characters (other than tab, line feed and carriage return) or
Unicode direction overrides: an escape sequence could retitle or repaint the user's terminal, and
a right-to-left override makes an id read differently from what it is. The loaders refuse them
(`unsafe_char`); text printed to a terminal has every non-printable character shown as an
escape (`printable`); CSV output escapes the same characters the loaders refuse (`csv_safe`),
for scenarios built in code.
"""

from __future__ import annotations

import re
import unicodedata

# C0 controls but tab, LF and CR; DEL and C1 controls; bidirectional marks, embeddings,
# overrides and isolates; line and paragraph separators; lone surrogates.
UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
    "\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def escape(char: str) -> str:
    """One character as a Python-style escape: \\x1b, \\u202e, \\U0001f600."""
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def unsafe_char(text: str) -> str | None:
    """The first character of `text` that input may not hold, or None."""
    found = UNSAFE.search(text)
    return found.group() if found else None


def describe(char: str) -> str:
    """`\\x1b (ESCAPE)`: an unsafe character, for an error message."""
    name = unicodedata.name(char, "")
    return f"{escape(char)} ({name})" if name else escape(char)


def printable(text: str) -> str:
    """`text` with every character a terminal would not show as itself written as an escape."""
    if text.isprintable():
        return text
    return "".join(
        escape(c) if c != " " and unicodedata.category(c) in _HIDDEN else c for c in text
    )


def csv_safe(text: str) -> str:
    """`text` with the characters input may not hold escaped (tab, CR and LF are kept)."""
    return UNSAFE.sub(lambda m: escape(m.group()), text)
