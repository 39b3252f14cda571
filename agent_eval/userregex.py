"""User regular expressions on model output, run through the `regex` package with a time limit.

`re` cannot be stopped once it backtracks (it holds the GIL), so every pattern a user writes
that runs on model output is compiled with `regex` (which accepts `re` syntax). A search first
runs inline with a short limit; when that runs out it raises RegexTimeout. The check runtime then
runs the whole check again in a thread under `time_budget(seconds)`, where the search releases
the GIL and may use the check's full time limit; elsewhere (escalation, agent replies) the
timeout is the answer. A leaf: JSONPath (`agent_eval.jsonpath`) and the checks build on it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import regex

__all__ = [
    "INLINE_LIMIT_S",
    "Pattern",
    "RegexTimeout",
    "cached_regex",
    "compile_user_regex",
    "regex_error",
    "search",
    "sub",
    "time_budget",
]

INLINE_LIMIT_S = 0.05  # on the event loop: long enough for any sane pattern, short enough to keep it responsive

Pattern = Any  # regex.Pattern[str]; the package ships no usable type for it
regex_error = re.error

_budget = threading.local()


class RegexTimeout(Exception):
    """A bounded search ran out of time."""


def compile_user_regex(pattern: str, flags: int = 0) -> Pattern:
    """Check the pattern is valid `re` syntax, then compile it with `regex`; raises regex_error (re.error)."""
    re.compile(pattern, flags)  # the documented syntax, and its error messages
    try:
        return regex.compile(pattern, flags | regex.VERSION0)
    except regex.error as exc:
        raise re.error(str(exc)) from None


def _limit() -> tuple[float, bool]:
    """(seconds, release the GIL): the thread's budget, else the inline limit."""
    seconds: float | None = getattr(_budget, "seconds", None)
    return (INLINE_LIMIT_S, False) if seconds is None else (seconds, True)


def search(pattern: Pattern, text: str) -> Any:
    """pattern.search(text), bounded: inline by INLINE_LIMIT_S, in a budgeted thread by its budget."""
    seconds, concurrent = _limit()
    try:
        return pattern.search(text, timeout=seconds, concurrent=concurrent)
    except TimeoutError:
        raise RegexTimeout(f"regex /{pattern.pattern}/ ran out of time") from None


def sub(pattern: Pattern, replacement: str, text: str) -> str:
    """pattern.sub(replacement, text), bounded like `search`."""
    seconds, concurrent = _limit()
    try:
        return str(pattern.sub(replacement, text, timeout=seconds, concurrent=concurrent))
    except TimeoutError:
        raise RegexTimeout(f"regex /{pattern.pattern}/ ran out of time") from None


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Let bounded searches in this thread run for up to `seconds` each."""
    _budget.seconds = seconds
    try:
        yield
    finally:
        del _budget.seconds


_patterns: dict[str, Pattern] = {}


def cached_regex(pattern: str) -> Pattern:
    """A compiled user pattern, compiled once per process."""
    compiled = _patterns.get(pattern)
    if compiled is None:
        compiled = _patterns[pattern] = compile_user_regex(pattern)
    return compiled
