"""Helpers shared by the check families: argument validation and short, one-line quoting."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_eval.checks.base import CheckSpecError

__all__ = [
    "QUOTE_LIMIT",
    "RawCheck",
    "around",
    "closest",
    "expect_keys",
    "expect_mapping",
    "expect_str",
    "expect_str_list",
    "json_equal",
    "non_negative_int",
    "output_start",
    "positive_number",
    "quote",
    "render_json",
    "type_name",
]

QUOTE_LIMIT = 60


@dataclass(frozen=True, slots=True)
class RawCheck:
    """One check item as written: its name, its value and any sibling option keys."""

    name: str  # as written, e.g. "not_regex"
    value: Any
    options: Mapping[str, Any]
    base_dir: Path


def type_name(value: Any) -> str:
    """The YAML-ish name of a value's type, with its article: "a list", "an integer"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def closest(word: str, candidates: Iterable[str]) -> list[str]:
    """The valid names nearest to a misspelt one, best first."""
    return difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)


def expect_str(value: Any, key: str, *, hint: str = "") -> str:
    """A non-empty string, or a CheckSpecError naming what was found."""
    if not isinstance(value, str):
        extra = ""
        if isinstance(value, int | float) and not isinstance(value, bool):
            extra = f' (quote it: "{value}")'
        raise CheckSpecError(f"expected a string{hint}, got {type_name(value)}{extra}", key=key)
    if not value:
        raise CheckSpecError(f"expected a non-empty string{hint}", key=key)
    return value


def expect_str_list(value: Any, key: str) -> tuple[str, ...]:
    """A non-empty list of non-empty strings."""
    if not isinstance(value, list | tuple):
        raise CheckSpecError(f"expected a list of strings, got {type_name(value)}", key=key)
    if not value:
        raise CheckSpecError("expected a non-empty list of strings", key=key)
    for item in value:
        if not isinstance(item, str) or not item:
            raise CheckSpecError(f"expected a list of non-empty strings; item {item!r} is not", key=key)
    return tuple(value)


def expect_mapping(value: Any, key: str, *, hint: str) -> Mapping[str, Any]:
    """A mapping, or a CheckSpecError showing the expected form."""
    if not isinstance(value, Mapping):
        raise CheckSpecError(f"expected a mapping like {hint}, got {type_name(value)}", key=key)
    return value


def expect_keys(mapping: Mapping[str, Any], allowed: Iterable[str], *, owner: str) -> None:
    """Reject option keys the check does not know, suggesting the nearest valid ones."""
    valid = list(allowed)
    for key in mapping:
        if key in valid:
            continue
        near = closest(str(key), valid)
        hint = f'; did you mean "{near[0]}"?' if near else ""
        options = ", ".join(valid) if valid else "none"
        raise CheckSpecError(f'unknown option "{key}" for {owner} (options: {options}){hint}', key=str(key))


def positive_number(value: Any, key: str, *, what: str = "a positive number") -> float:
    """A finite number greater than zero (booleans are not numbers here)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        shown = type_name(value) if not ok else repr(value)
        raise CheckSpecError(f"expected {what}, got {shown}", key=key)
    return float(value)


def non_negative_int(value: Any, key: str) -> int:
    """An integer >= 0."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        shown = repr(value) if isinstance(value, int) and not isinstance(value, bool) else type_name(value)
        raise CheckSpecError(f"expected a whole number >= 0, got {shown}", key=key)
    return value


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """Double-quoted on one line, cut to `limit` characters with an ellipsis."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return json.dumps(text, ensure_ascii=False)


def around(text: str, start: int, end: int, margin: int = 20) -> str:
    """The match at text[start:end] with a little context, quoted."""
    lo, hi = max(0, start - margin), min(len(text), end + margin)
    snippet = ("…" if lo else "") + text[lo:hi] + ("…" if hi < len(text) else "")
    return quote(snippet, limit=QUOTE_LIMIT + 2)


def output_start(text: str) -> str:
    """`output starts "…"`, or `output is empty`."""
    stripped = text.strip()
    return f"output starts {quote(stripped)}" if stripped else "output is empty"


def render_json(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """Compact JSON of a value, cut to `limit` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values where true is not 1 and 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b
