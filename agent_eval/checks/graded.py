"""What a `python:` check may return, read into a verdict: promptfoo's grading result, in Python.

    True / False                                   pass or fail
    0.8                                            a score in [0, 1]; passes at `threshold:` (default 0.75)
    (True, "why") / (0.8, "why")                   either, with a reason
    {"pass": ..., "score": ..., "reason": ..., "named_scores": {...}}   any of the keys (namedScores too)

A score enters the run's score with the check's weight; named scores feed named metrics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_THRESHOLD", "Graded", "read_result"]

DEFAULT_THRESHOLD = 0.75
_EXPECTED = "expected a bool, a score in [0, 1], (bool or score, reason) or {pass, score, reason, named_scores}"


@dataclass(frozen=True, slots=True)
class Graded:
    """A python check's verdict: pass, reason, optional score and named scores."""

    passed: bool
    reason: str
    score: float | None = None
    named_scores: dict[str, float] = field(default_factory=dict)


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"):
        return bool(value)
    return None


def _number(value: Any) -> float | None:
    if _bool(value) is not None or not isinstance(value, int | float) and type(value).__module__ != "numpy":
        return None
    try:
        number = float(value)
    except OverflowError:  # an int past float's range (10**400): out of any range a score or count has
        return math.inf if value > 0 else -math.inf
    except (TypeError, ValueError):
        return None
    return number


def _show(value: Any) -> str:
    """A returned value for a reason: short, and never failing (repr refuses ints past 4,300 digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value).bit_length() > 256:
        return f"an integer of about {int(abs(value).bit_length() * 0.30103) + 1} digits"
    try:
        text = repr(value)
    except Exception:  # a user's object whose repr fails
        return type(value).__name__
    return text if len(text) <= 80 else text[:79] + "…"


def _score(value: Any, ref: str) -> float | str:
    number = _number(value)
    if number is None or not math.isfinite(number) or not 0.0 <= number <= 1.0:
        return f"{ref} returned score {_show(value)}; a score is a number in [0, 1]"
    return number


def read_result(ref: str, value: Any, threshold: float | None) -> Graded:
    """The verdict a function's return value stands for; a malformed value fails with a reason saying why."""
    try:
        return _read(ref, value, threshold)
    except Exception as exc:  # a user's value whose methods (__float__, __eq__, __iter__) raise: the check fails
        return Graded(False, f"{ref} returned {type(value).__name__} that could not be read "
                      f"({type(exc).__name__}); {_EXPECTED}")


def _read(ref: str, value: Any, threshold: float | None) -> Graded:
    cut = DEFAULT_THRESHOLD if threshold is None else threshold
    reason = ""
    if isinstance(value, tuple) and len(value) == 2:
        value, reason = value
        reason = " ".join(str(reason).split())
    if isinstance(value, Mapping):
        return _from_mapping(ref, value, cut)
    passed = _bool(value)
    if passed is not None:
        return Graded(passed, reason or f"{ref} returned {passed}")
    score = _score(value, ref) if _number(value) is not None else None
    if isinstance(score, float):
        ok = score >= cut
        return Graded(ok, reason or f"{ref} scored {score:.3g} ({'>=' if ok else '<'} threshold {cut:g})", score)
    if isinstance(score, str):
        return Graded(False, score)
    return Graded(False, f"{ref} returned {type(value).__name__}; {_EXPECTED}")


def _from_mapping(ref: str, value: Mapping[Any, Any], cut: float) -> Graded:
    unknown = sorted(str(k) for k in value if k not in ("pass", "passed", "score", "reason", "named_scores",
                                                        "namedScores"))
    if unknown:
        return Graded(False, f"{ref} returned unknown keys {', '.join(unknown)}; {_EXPECTED}")
    score: float | None = None
    if value.get("score") is not None:
        read = _score(value["score"], ref)
        if isinstance(read, str):
            return Graded(False, read)
        score = read
    raw_pass = value.get("pass", value.get("passed"))
    passed = _bool(raw_pass) if raw_pass is not None else None
    if raw_pass is not None and passed is None:
        return Graded(False, f"{ref} returned pass={_show(raw_pass)}; pass is true or false")
    if passed is None:
        if score is None:
            return Graded(False, f"{ref} returned neither pass nor score; {_EXPECTED}")
        passed = score >= cut
    named: dict[str, float] = {}
    for name, number in dict(value.get("named_scores") or value.get("namedScores") or {}).items():
        as_float = _number(number)
        if not isinstance(name, str) or not name.isidentifier() or as_float is None or not math.isfinite(as_float):
            return Graded(False, f"{ref} returned named score {_show(name)}: {_show(number)}; names are words, values "
                          "finite numbers")
        named[name] = as_float
    reason = " ".join(str(value.get("reason") or "").split())
    shown = f"{ref} returned pass={passed}" + (f", score {score:.3g}" if score is not None else "")
    return Graded(passed, reason or shown, score, named)
