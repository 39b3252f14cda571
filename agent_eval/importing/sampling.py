"""Deterministic sampling, deduplication and redaction of production conversations.

A conversation's key is the SHA-256 of its normalised input (NFKC, case-folded, whitespace collapsed):
identical inputs dedupe to one, the case id is derived from it (stable across imports), and the sampling
decision is `key as a number in [0, 1) < rate`, so the same input always gets the same decision.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["input_key", "normalise", "redact", "sample"]

T = TypeVar("T")

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?!\w)")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def normalise(text: str) -> str:
    """The text as compared for duplicates: NFKC, case-folded, runs of whitespace as one space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def input_key(parts: Sequence[str]) -> str:
    """The SHA-256 (hex) of the normalised input messages, in order."""
    return hashlib.sha256("\n".join(normalise(p) for p in parts).encode()).hexdigest()


def _unit(key: str) -> float:
    return int(key[:16], 16) / float(16**16)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match[0])
    return "[CARD]" if 13 <= len(digits) <= 19 and _luhn(digits) else match[0]


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match[0])
    if not 7 <= len(digits) <= 15 or _ISO_DATE.match(match[0]):
        return match[0]
    return "[PHONE]"


def redact(text: str) -> str:
    """E-mail addresses, card numbers (Luhn-valid, 13-19 digits) and phone numbers (7-15 digits) masked."""
    text = _EMAIL.sub("[EMAIL]", text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub(_phone, text)


def sample(items: Sequence[T], key: Callable[[T], str], rate: float, *,
           stratum: Callable[[T], str] | None = None, min_per_stratum: int = 0) -> list[T]:
    """Items whose key falls under `rate`; with strata, each stratum gets at least `min_per_stratum` items
    (its lowest keys), so a rare stratum is never left out. Order of `items` is kept."""
    chosen = {id(item) for item in items if _unit(key(item)) < rate}
    if stratum is not None and min_per_stratum > 0:
        groups: dict[str, list[T]] = {}
        for item in items:
            groups.setdefault(stratum(item), []).append(item)
        for members in groups.values():
            have = sum(1 for m in members if id(m) in chosen)
            for extra in sorted((m for m in members if id(m) not in chosen), key=key)[:max(0, min_per_stratum - have)]:
                chosen.add(id(extra))
    return [item for item in items if id(item) in chosen]
