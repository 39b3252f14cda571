"""User regular expressions on model output, run through the `regex` package with a time limit.

`re` cannot be stopped once it backtracks (it holds the GIL), so every pattern a user writes
that runs on model output is compiled with `regex` (which accepts `re` syntax). A search first
runs inline with a short limit; when that runs out it raises CheckTimeout, and the check runtime
runs the whole check again in a thread under `time_budget(seconds)`, where the search releases
the GIL and may use the check's full time limit.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import regex

from agent_eval.checks.base import CheckTimeout

__all__ = [
    "INLINE_LIMIT_S",
    "Pattern",
    "bound_jsonpath_filters",
    "cached_regex",
    "compile_user_regex",
    "regex_error",
    "regex_operator",
    "search",
    "time_budget",
]

INLINE_LIMIT_S = 0.05  # on the event loop: long enough for any sane pattern, short enough to keep it responsive

Pattern = Any  # regex.Pattern[str]; the package ships no usable type for it
regex_error = re.error

_budget = threading.local()


def compile_user_regex(pattern: str, flags: int = 0) -> Pattern:
    """Check the pattern is valid `re` syntax, then compile it with `regex`; raises regex_error (re.error)."""
    re.compile(pattern, flags)  # the documented syntax, and its error messages
    try:
        return regex.compile(pattern, flags | regex.VERSION0)
    except regex.error as exc:
        raise re.error(str(exc)) from None


def search(pattern: Pattern, text: str) -> Any:
    """pattern.search(text), bounded: inline by INLINE_LIMIT_S, in a budgeted thread by its budget."""
    seconds: float | None = getattr(_budget, "seconds", None)
    try:
        if seconds is None:
            return pattern.search(text, timeout=INLINE_LIMIT_S)
        return pattern.search(text, timeout=seconds, concurrent=True)
    except TimeoutError:
        raise CheckTimeout(f"regex /{pattern.pattern}/ ran out of time") from None


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Let bounded searches in this thread run for up to `seconds` each."""
    _budget.seconds = seconds
    try:
        yield
    finally:
        del _budget.seconds


def regex_operator(value: Any, pattern: str) -> bool:
    """jsonpath-ng's `=~` filter operator, bounded like the checks' own patterns."""
    return isinstance(value, str) and search(cached_regex(pattern), value) is not None


_patterns: dict[str, Pattern] = {}


def cached_regex(pattern: str) -> Pattern:
    """A compiled user pattern, compiled once per process."""
    compiled = _patterns.get(pattern)
    if compiled is None:
        compiled = _patterns[pattern] = compile_user_regex(pattern)
    return compiled


def bound_jsonpath_filters() -> None:
    """Route jsonpath-ng's `=~` (which uses `re`) through `regex_operator`."""
    from jsonpath_ng.ext import filter as jsonpath_filter

    # a cast: newer jsonpath-ng types the map with Literal keys
    operators = cast("dict[str, Callable[[Any, Any], bool]]", jsonpath_filter.OPERATOR_MAP)
    operators["=~"] = regex_operator
