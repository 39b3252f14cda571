"""Line diffs of prompts (difflib). Output word diffs are computed in the browser (templates/diff.js)
when a case is opened, so writing a report never pays for diffs nobody reads."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

__all__ = ["LineDiff", "line_diff"]


@dataclass(frozen=True, slots=True)
class LineDiff:
    """A line of a unified-style diff: ' ' kept, '-' removed, '+' added, '@' a hunk header."""

    kind: Literal[" ", "-", "+", "@"]
    text: str


def line_diff(old: str | None, new: str | None, context: int = 3) -> tuple[LineDiff, ...]:
    """A line diff of two texts (such as prompts); empty when they are equal."""
    a = (old or "").splitlines()
    b = (new or "").splitlines()
    if a == b:
        return ()
    out: list[LineDiff] = []
    for line in list(difflib.unified_diff(a, b, lineterm="", n=context))[2:]:  # skip the file headers
        kind = line[:1] if line[:1] in ("-", "+", "@") else " "
        out.append(LineDiff(kind, line[1:] if kind != "@" else line))  # type: ignore[arg-type]
    return tuple(out)
