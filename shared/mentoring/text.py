"""Text as people type it, made safe in one place: at the model boundary, and again on the way out.

A name, a tag or a cohort name is one line of text. It reaches emails (a subject is a header),
pages, the coordinator's CSV export and logs, so a line break in it could add a header or a line
to someone else's email, a NUL can break a mail system or a spreadsheet, and a right-to-left
override can make a name read as something else. So:

- **single-line fields** refuse every control character (NUL, CR, LF, tab...), the line and
  paragraph separators, lone surrogates and the bidirectional embeddings, overrides and isolates;
- **multi-line fields** keep line breaks (as ``\\n``) and refuse the rest;
- **output** (:func:`one_line`, :func:`csv_cell`) replaces anything that slipped in before these
  rules (stored data) with a space, so no email line, header, page or export cell carries one.

Right-to-left text itself is welcome (Arabic and Hebrew names); only the invisible controls that
reorder what is shown are refused. The implicit marks (U+200E, U+200F) are kept: names need them.
"""

from __future__ import annotations

import unicodedata

# Embeddings, overrides (U+202A-U+202E) and isolates (U+2066-U+2069): they reorder what is shown.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control characters, line and paragraph separators, surrogates (never valid text on their own).
_REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})
_LINE_BREAKS = ("\r\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c")

SINGLE_LINE_MESSAGE = (
    "must be one line of text, without line breaks, tabs, control characters or direction overrides"
)
MULTI_LINE_MESSAGE = "must be text without control characters or direction overrides (line breaks are fine)"


def unsafe(character: str) -> bool:
    """A character no single-line field may hold."""
    return character in BIDI_CONTROLS or unicodedata.category(character) in _REFUSED_CATEGORIES


def single_line(value: str) -> str:
    """Validator of single-line fields: the value unchanged, or ValueError naming what is wrong."""
    if any(unsafe(c) for c in value):
        raise ValueError(SINGLE_LINE_MESSAGE)
    return value


def multi_line(value: str) -> str:
    """Validator of multi-line fields: every line break becomes ``\\n``; other controls are refused."""
    for brk in _LINE_BREAKS:
        value = value.replace(brk, "\n")
    if any(c != "\n" and unsafe(c) for c in value):
        raise ValueError(MULTI_LINE_MESSAGE)
    return value


def one_line(text: str) -> str:
    """Any text as one safe line for output: each unsafe character becomes a space."""
    if not any(unsafe(c) for c in text):
        return text
    return " ".join("".join(" " if unsafe(c) else c for c in text).split())


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP CSV injection),
# also after leading spaces in some spreadsheets; fullwidth forms are read as the same by some.
_FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")


def csv_cell(cell: str) -> str:
    """A cell that stays one line and that no spreadsheet runs as a formula."""
    cell = one_line(cell)
    return "'" + cell if cell.lstrip()[:1] in _FORMULA_STARTS else cell
