"""Checks for text that staff write and players read (reasons, notices)."""

from __future__ import annotations

import unicodedata

_LINE_BREAKS = frozenset("\n\r\t")


def has_hidden_characters(text: str, *, allow_line_breaks: bool = False) -> bool:
    """True if ``text`` holds control characters (Unicode Cc) or invisible format characters
    (Cf: bidirectional overrides that reorder what the reader sees, zero-width characters)."""
    for char in text:
        if allow_line_breaks and char in _LINE_BREAKS:
            continue
        if unicodedata.category(char) in ("Cc", "Cf"):
            return True
    return False
