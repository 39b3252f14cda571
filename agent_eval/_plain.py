"""User text made safe for a terminal or a one-line report field: no escape sequences, no control characters."""

from __future__ import annotations

import re

__all__ = ["plain"]

# CSI (colours, cursor moves), OSC (titles, hyperlinks; ended by BEL or ST), other two-byte escapes, and the
# 8-bit C1 forms of CSI and OSC
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x9c]*[\x07\x9c]?"
)
# C0 and C1 controls, DEL, and the bidirectional overrides that reorder what a reader sees
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_BREAKS = re.compile(r"[\t\n\r]+")


def plain(text: str) -> str:
    """`text` with terminal escape sequences and control characters removed and line breaks made spaces."""
    if text.isprintable():  # the common case costs one scan
        return text
    return _BREAKS.sub(" ", _CONTROLS.sub("", _ESCAPES.sub("", text)))
