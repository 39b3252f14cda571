"""JSONPath for every part of agent-eval: jsonpath-ng's extended syntax, its user regexes bounded.

Checks, transforms, escalation rules, HTTP agents' output paths and suite validation all parse
here, so the bound is always in force: the `=~` filter and the `sub(/regex/, repl)` string
method run as bounded `regex` searches (`agent_eval.userregex`) instead of jsonpath-ng's `re`, and
a search that runs out of time raises RegexTimeout instead of hanging the process. jsonpath_ng
is imported on the first parse. A leaf.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from agent_eval.userregex import RegexTimeout, cached_regex, search, sub

__all__ = ["InvalidJsonPath", "JsonPath", "RegexTimeout", "parse"]


class InvalidJsonPath(ValueError):
    """The expression is not a JSONPath (its message is jsonpath-ng's)."""


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A parsed JSONPath."""

    text: str
    expr: Any  # jsonpath_ng.JSONPath

    def values(self, document: Any) -> list[Any]:
        """Every value the path selects in `document`; raises RegexTimeout when a filter's regex ran out of time."""
        return [match.value for match in self.expr.find(document)]


@functools.lru_cache(maxsize=256)
def parse(text: str) -> JsonPath:
    """Parse `text` with the user regexes bounded; raises InvalidJsonPath."""
    _install_bounds()
    from jsonpath_ng.ext import parse as parse_ext

    try:
        expr = parse_ext(text)
        _check_patterns(expr)
    except Exception as exc:  # the lexer, the parser and `re` (in sub() and =~) each raise their own kind
        raise InvalidJsonPath(str(exc) or type(exc).__name__) from None
    return JsonPath(text=text, expr=expr)


def _check_patterns(node: Any) -> None:
    """Compile every `=~` pattern now, so a bad one is an invalid path rather than an error on some output."""
    from jsonpath_ng import JSONPath
    from jsonpath_ng.ext.filter import Expression

    if isinstance(node, Expression) and node.op == "=~":
        if not isinstance(node.value, str):
            raise InvalidJsonPath(f"=~ needs a quoted regular expression, got {node.value!r}")
        cached_regex(node.value)
    for value in vars(node).values():
        for child in value if isinstance(value, list | tuple) else (value,):
            if isinstance(child, JSONPath):
                _check_patterns(child)


def _regex_operator(value: Any, pattern: str) -> bool:
    """jsonpath-ng's `=~` filter operator, bounded like the checks' own patterns."""
    return isinstance(value, str) and search(cached_regex(pattern), value) is not None


class _BoundedPattern:
    """What jsonpath-ng's `sub()` compiles its regex to: a bounded `regex` pattern."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compiled = cached_regex(pattern)

    def sub(self, replacement: str, text: str) -> str:
        return sub(self._compiled, replacement, text)


class _BoundedRe:
    """The `re` jsonpath-ng's string methods see: `compile` bounded, everything else `re`'s."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def compile(self, pattern: str, flags: int = 0) -> Any:
        return _BoundedPattern(pattern) if not flags else self._real.compile(pattern, flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


_installed = False


def _install_bounds() -> None:
    """Route jsonpath-ng's `=~` and `sub()` (which use `re`) through bounded `regex` searches; once per process."""
    global _installed
    if _installed:
        return
    from jsonpath_ng.ext import filter as jsonpath_filter
    from jsonpath_ng.ext import string as jsonpath_string

    # a cast: newer jsonpath-ng types the map with Literal keys
    operators = cast("dict[str, Callable[[Any, Any], bool]]", jsonpath_filter.OPERATOR_MAP)
    operators["=~"] = _regex_operator
    if not isinstance(jsonpath_string.re, _BoundedRe):  # compiled at parse time, in Sub.__init__
        jsonpath_string.re = _BoundedRe(jsonpath_string.re)  # type: ignore[assignment]
    _installed = True
