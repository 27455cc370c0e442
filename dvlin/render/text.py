"""User text on a terminal: quoted like git quotes file names, and counted nouns.

File names, asset and tag names, messages, reasons and commands are data. Printed raw, an
escape sequence in a file name colours or clears the terminal and a newline breaks
one-entry-per-line output. Every text output of user strings goes through :func:`quote`;
``--json`` carries the exact strings instead.
"""

from __future__ import annotations

from dvlin.wording import plural

__all__ = ["plural", "quote"]

_C_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "\\": "\\\\",
}


def _needs_quoting(text: str) -> bool:
    return not text.isprintable()


def _escape_char(ch: str) -> str:
    if ch in _C_ESCAPES:
        return _C_ESCAPES[ch]
    if ch.isprintable():
        return ch
    # Octal bytes of the UTF-8 form, as git writes them; a file name that is not valid UTF-8
    # reaches Python as surrogate escapes and comes back out as its original bytes.
    raw = ch.encode("utf-8", "surrogateescape")
    return "".join(f"\\{b:03o}" for b in raw)


def quote(text: str, *, marks: bool = True) -> str:
    """``text`` as it is safe to print on one line of a terminal.

    Plain text comes back unchanged. Text with a control character or anything else that is
    not printable (an escape sequence, a newline, a tab, an invalid UTF-8 byte) is C-quoted as
    git quotes file names: ``"a\\033[31mb\\n"``. With ``marks=False`` the escapes are made but
    no double quotes are added (for a whole error message that embeds user text).
    """
    if not _needs_quoting(text):
        return text
    if not marks:
        return "".join(_escape_char(ch) if not ch.isprintable() else ch for ch in text)
    return '"' + "".join(_escape_char(ch) for ch in text) + '"'
