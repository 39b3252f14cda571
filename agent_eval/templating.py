"""The one Jinja2 sandbox every user template renders in, with bounds on time and size.

Jinja's own sandbox stops attribute escapes, not work: nested loops run for ever and `format`, `ljust`,
`join` or `*` build gigabyte strings. Here every render has a deadline (`TIME_LIMIT_S`) checked at
each loop step, call, operator and join, and nothing it builds may exceed `MAX_OUTPUT` characters
(or items): widths, repetitions and joins are checked before the string exists. Either limit raises
`TemplateLimit` (an OverflowError), which callers report like any other template error.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Iterator
from functools import lru_cache, update_wrapper
from string import Formatter
from typing import Any

__all__ = ["MAX_OUTPUT", "MAX_RANGE", "TIME_LIMIT_S", "TemplateLimit", "bounded_environment"]

MAX_OUTPUT = 1_000_000  # characters (or items) a render, or any string or list built inside it, may have
TIME_LIMIT_S = 2.0  # seconds one render may take
MAX_RANGE = 10_000  # items of one `range()`
_MAX_INT_BITS = 100_000  # ints a template computes (`**`, `*`) stay below this size
_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\d+|\*)?(?:\.(\d+|\*))?")
_WIDTH_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate", "tojson", "batch", "slice", "format"})
_PADDING = frozenset({"ljust", "rjust", "center", "zfill"})
_state = threading.local()


class TemplateLimit(OverflowError):
    """A template went over the time or size bound of one render."""


def _tick() -> None:
    deadline = getattr(_state, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise TemplateLimit(f"rendering went over the time limit of {TIME_LIMIT_S:g} s")


def _size(n: int, what: str) -> None:
    if n > MAX_OUTPUT:
        raise TemplateLimit(f"{what} of {n:,} characters or items is over the limit of {MAX_OUTPUT:,}")


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict) else len(str(value))


def _join_size(items: Any, sep: Any) -> list[Any]:
    listed = list(items)
    _size(len(listed), "join")
    _size(sum(_length(x) for x in listed) + len(str(sep)) * max(len(listed) - 1, 0), "join")
    return listed


def _replace_size(text: str, old: Any, new: Any, count: Any = -1) -> None:
    old, new = str(old), str(new)
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    _size(len(text) + hits * max(len(new) - len(old), 0), "replace")


def _format_spec_size(fmt: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Widths and precisions of a `str.format` string; a width taken from an argument is checked too."""
    try:
        parsed = list(Formatter().parse(fmt))
    except ValueError:
        return  # the call itself reports the bad format
    for _, _, spec, _ in parsed:
        if not spec:
            continue
        for digits in re.findall(r"\d+", spec):
            _size(int(digits), "format width")
        if "{" in spec:
            for value in (*args, *kwargs.values()):
                if isinstance(value, int) and not isinstance(value, bool):
                    _size(abs(value), "format width")


def _percent_size(fmt: str, args: Any) -> None:
    """Widths and precisions of a `%` format (`%999999999s`, `%.999999999f`, `%*d`)."""
    star = False
    for width, precision in _PERCENT.findall(fmt):
        for part in (width, precision):
            if part == "*":
                star = True
            elif part:
                _size(int(part), "format width")
    if star:
        for value in args if isinstance(args, tuple) else (args,):
            if isinstance(value, int) and not isinstance(value, bool):
                _size(abs(value), "format width")


def _limited_range(*args: int) -> Iterable[int]:
    span = range(*args)
    if len(span) > MAX_RANGE:
        raise TemplateLimit(f"range of {len(span):,} items is over the limit of {MAX_RANGE:,}")
    return span


def _guard_iter(iterable: Any) -> Iterator[Any]:
    """A loop's items, the deadline checked at each step."""
    for item in iterable:
        _tick()
        yield item


def _bounded_concat(parts: Iterable[Any]) -> str:
    """Jinja's `concat` (how a render, a block or a macro joins its pieces), bounded."""
    out: list[str] = []
    total = 0
    for part in parts:
        _tick()
        total += len(part)
        _size(total, "rendered text")
        out.append(part)
    return "".join(out)


def _checked_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse, before it runs, a str or list method that would build something too large."""
    target = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
    owner = getattr(target, "__self__", None)
    name = getattr(target, "__name__", "")
    if isinstance(owner, str):
        ints = [a for a in (*args, *kwargs.values()) if isinstance(a, int) and not isinstance(a, bool)]
        if name in _PADDING and ints:
            _size(abs(ints[0]), f"{name} width")
        elif name == "expandtabs":
            _size(len(owner) * (abs(ints[0]) if ints else 8), "expandtabs")
        elif name == "join" and args:
            _join_size(args[0], owner)
        elif name == "replace" and len(args) >= 2:
            _replace_size(owner, *args[:3])
        elif name in ("format", "format_map"):
            _format_spec_size(owner, args, kwargs)
    elif isinstance(owner, list) and name in ("extend", "__iadd__") and args:
        _size(len(owner) + _length(args[0]), "list")


def _bounded_filter(name: str, func: Any) -> Any:
    """A filter with its width, join and replace arguments checked before it runs, and its result after."""
    passes = getattr(func, "jinja_pass_arg", None)

    def bounded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        head = 0 if passes is None else 1  # the context or environment Jinja passes first
        value, rest = args[head], args[head + 1:]
        if name in _WIDTH_FILTERS:
            for arg in (*rest, *kwargs.values()):
                if isinstance(arg, int) and not isinstance(arg, bool):
                    _size(abs(arg), f"{name} width")
            if name == "indent":
                width = rest[0] if rest else kwargs.get("width", 4)
                _size(str(value).count("\n") * (width if isinstance(width, int) else len(str(width))),
                      "indent")
            if name == "format":
                _percent_size(str(value), rest)
        elif name == "join":
            args = (*args[:head], _join_size(value, rest[0] if rest else kwargs.get("d", "")), *rest)
        elif name == "replace" and len(rest) >= 2:
            _replace_size(str(value), *rest[:3])
        result = func(*args, **kwargs)
        if isinstance(result, str | list):
            _size(len(result), f"{name} result")
        return result

    update_wrapper(bounded, func)
    if passes is not None:
        bounded.jinja_pass_arg = passes  # type: ignore[attr-defined]
    return bounded


@lru_cache(maxsize=1)
def _classes() -> tuple[type, type]:
    from jinja2 import Template, nodes
    from jinja2.compiler import CodeGenerator, Frame
    from jinja2.sandbox import SandboxedEnvironment

    class _Generator(CodeGenerator):
        """Compiles every `for` loop over `environment.guard_iter(...)`, so each step sees the deadline."""

        def visit_For(self, node: nodes.For, frame: Frame) -> None:
            if not getattr(node, "bounded", False):
                node.iter = nodes.Call(nodes.EnvironmentAttribute("guard_iter"), [node.iter], [], None, None,
                                       lineno=node.lineno)
                node.bounded = True  # type: ignore[attr-defined]
            super().visit_For(node, frame)

        def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # `~`: joined by the bounded concat
            self.write("environment.concat(map(str, (")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write(")))")

    class _Template(Template):
        """A template whose render has a deadline."""

        def render(self, *args: Any, **kwargs: Any) -> str:
            outer = getattr(_state, "deadline", None)
            if outer is None:
                _state.deadline = time.monotonic() + TIME_LIMIT_S
            try:
                return super().render(*args, **kwargs)
            finally:
                if outer is None:
                    _state.deadline = None

    class _Bounded(SandboxedEnvironment):
        """The sandbox with time and size bounds (see the module docstring)."""

        code_generator_class = _Generator
        template_class = _Template
        intercepted_binops = frozenset({"*", "**", "+", "%"})

        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self.globals["range"] = _limited_range
            self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
            self.filters["from_json"] = _from_json
            self.guard_iter = _guard_iter
            self.concat = _bounded_concat  # type: ignore[assignment]

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _tick()
            numbers = [x for x in (left, right) if isinstance(x, int) and not isinstance(x, bool)]
            if operator == "**" and isinstance(right, int | float):
                if abs(right) > 64 or (isinstance(left, int) and abs(left).bit_length() * abs(right) > _MAX_INT_BITS):
                    raise TemplateLimit(f"power {right} is over the limit")
            elif operator == "*":
                sizes = [len(x) for x in (left, right) if isinstance(x, str | list | tuple)]
                if sizes and numbers:
                    _size(sizes[0] * abs(numbers[0]), "repetition")
                elif len(numbers) == 2 and sum(n.bit_length() for n in numbers) > _MAX_INT_BITS:
                    raise TemplateLimit("product of two huge numbers")
            elif operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                _size(len(left) + len(right), "concatenation")
            elif operator == "%" and isinstance(left, str):
                _percent_size(left, right)
            return super().call_binop(context, operator, left, right)

        def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
            _tick()
            _checked_call(obj, args, kwargs)
            return super().call(context, obj, *args, **kwargs)

        def getattr(self, obj: Any, attribute: str) -> Any:
            _tick()
            return super().getattr(obj, attribute)

    return _Bounded, _Template


def _from_json(text: Any) -> Any:
    """The `from_json` filter: a var holding JSON text as the value it encodes (`{{ (row | from_json).name }}`)."""
    import json

    if not isinstance(text, str | bytes):
        raise TypeError(f"from_json expects JSON text, got {type(text).__name__}")
    _size(len(text), "from_json input")
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("from_json: nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"from_json: not valid JSON: {exc}") from None


def bounded_environment(**options: Any) -> Any:
    """A `SandboxedEnvironment` (with these options) whose renders are bounded in time and size."""
    environment, _ = _classes()
    return environment(**options)
