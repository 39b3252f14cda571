"""Text diffs computed in Python (difflib) and rendered by the templates as escaped spans."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

__all__ = ["LineDiff", "Segment", "WordDiff", "line_diff", "word_diff"]

Op = Literal["eq", "del", "ins"]
# A word keeps its trailing whitespace, so a changed phrase reads as one span, not word by word.
_TOKEN = re.compile(r"\w+\s*|[^\w\s]\s*|\s+")
# SequenceMatcher is quadratic in the worst case; beyond this many token pairs, compare lines.
_MAX_TOKEN_PAIRS = 4_000_000


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of text that is equal on both sides, or only on one."""

    op: Op
    text: str


@dataclass(frozen=True, slots=True)
class WordDiff:
    """The baseline text with deletions marked, and the candidate text with insertions marked."""

    old: tuple[Segment, ...]
    new: tuple[Segment, ...]
    identical: bool


def _merge(segments: list[Segment]) -> tuple[Segment, ...]:
    merged: list[Segment] = []
    for seg in segments:
        if merged and merged[-1].op == seg.op:
            merged[-1] = Segment(seg.op, merged[-1].text + seg.text)
        elif seg.text:
            merged.append(seg)
    return tuple(merged)


def _tokens(text: str, by_line: bool) -> list[str]:
    return text.splitlines(keepends=True) if by_line else _TOKEN.findall(text)


def _common_ends(a: list[str], b: list[str]) -> tuple[int, int]:
    """Lengths of the common prefix and the common suffix (not overlapping)."""
    limit = min(len(a), len(b))
    head = 0
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail


@lru_cache(maxsize=2048)  # runs of one case often repeat an output
def word_diff(old: str, new: str) -> WordDiff:
    """Diff two texts on word tokens (a word or a punctuation mark with the spaces after it)."""
    if old == new:
        seg = (Segment("eq", old),) if old else ()
        return WordDiff(seg, seg, True)
    a, b = _tokens(old, False), _tokens(new, False)
    if len(a) * len(b) > _MAX_TOKEN_PAIRS:
        a, b = _tokens(old, True), _tokens(new, True)
    head, tail = _common_ends(a, b)
    left = [Segment("eq", "".join(a[:head]))]
    right = [Segment("eq", "".join(a[:head]))]
    mid_a, mid_b = a[head : len(a) - tail], b[head : len(b) - tail]
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, mid_a, mid_b, autojunk=False).get_opcodes():
        if tag == "equal":
            text = "".join(mid_a[i1:i2])
            left.append(Segment("eq", text))
            right.append(Segment("eq", text))
            continue
        if i2 > i1:
            left.append(Segment("del", "".join(mid_a[i1:i2])))
        if j2 > j1:
            right.append(Segment("ins", "".join(mid_b[j1:j2])))
    suffix = Segment("eq", "".join(a[len(a) - tail :]))
    return WordDiff(_merge([*left, suffix]), _merge([*right, suffix]), False)


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
