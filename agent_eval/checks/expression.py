"""`expr:` checks: a small, safe expression language over the output, its JSON, the case and the run.

    - expr: "output.json.score >= 0.8"
    - expr: "len(output.split()) <= 50"
    - expr: 'output.json.status in ["open", "closed"]'

The text is parsed with Python's `ast` and only the node kinds listed here are accepted; it is
walked by this module, never compiled or evaluated by Python. Names: `output` (the text the check
sees), `expected`, `vars`, `case` (id, tags, metadata) and `run` (latency_ms, cost_usd, steps,
tokens, tool_calls, escalated); `true`, `false` and `null` are accepted for True, False and None.
A field is read with a dot or brackets (`output.json.items[0].qty`); `.json` on a text parses it
(the whole text, else the first JSON object or array inside it). Calls go to the functions in
FUNCTIONS only, written `lower(output)` or `output.lower()`. Every value built is bounded like a
template render (`templating.MAX_OUTPUT`) and an evaluation stops at `templating.TIME_LIMIT_S`.
A boolean result passes or fails; a number is a score in [0, 1] that passes above 0, or at
`threshold` when one is given. A text that does not parse but is a promptfoo `javascript` one-liner
(`JSON.parse(output).score >= 0.8 && ...`) is read through `checks.snippets`' translation.
"""

from __future__ import annotations

import ast
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent_eval.checks._util import RawCheck, closest, expect_str, positive_number, render_json
from agent_eval.checks.base import CheckInput, CheckSpecError
from agent_eval.templating import MAX_OUTPUT, TIME_LIMIT_S
from agent_eval.userregex import cached_regex, regex_error, search

__all__ = ["FUNCTIONS", "NAMES", "Expression", "ExpressionError", "compile_expr", "eval_expr", "parse_expression"]

NAMES = ("output", "expected", "vars", "case", "run")
_CONSTANTS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
MAX_LENGTH = 2_000  # characters of one expression
MAX_NODES = 400  # syntax nodes of one expression
_MAX_INT_BITS = 10_000
_MAX_BUILT = 10 * MAX_OUTPUT  # characters or items all the texts and lists one evaluation builds may hold


class ExpressionError(ValueError):
    """An expression uses something outside the language; `line` and `column` (1-based) say where."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class _Failed(Exception):
    """The expression has no value on this run (a missing field, text that is not JSON, a type mismatch)."""


def _size(value: Any) -> Any:
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_OUTPUT:
        raise _Failed(f"a value of {len(value):,} characters or items is over the limit of {MAX_OUTPUT:,}")
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        raise _Failed("a number is too large")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _Failed(f"{what} expects a text, got {_kind(value)}")
    return value


def _parse_json(value: Any) -> Any:
    from agent_eval.checks.transforms import find_json_values

    docs = find_json_values(_text(value, ".json"))
    if not docs:
        raise _Failed("the text holds no JSON")
    return docs[0]


def _number(value: Any, what: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Failed(f"{what} expects a number, got {_kind(value)}")
    return value


def _to_int(value: Any) -> int:
    if isinstance(value, float) and not math.isfinite(value):
        raise _Failed(f"int() of {value}")
    if isinstance(value, str):
        value = value.strip()
        try:
            return int(value)
        except ValueError:
            return int(float(value))
    return int(_number(value, "int()"))


def _to_float(value: Any) -> float:
    if isinstance(value, str):
        return float(value.strip())
    return float(_number(value, "float()"))


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int | float):
        return str(value)
    import json

    return _size(json.dumps(value, ensure_ascii=False))


def _length(value: Any) -> int:
    if isinstance(value, str | list | tuple | dict):
        return len(value)
    raise _Failed(f"len() expects a text, list or object, got {_kind(value)}")


def _split(value: Any, sep: Any = None) -> list[str]:
    text = _text(value, "split()")
    if sep is None:
        return text.split()
    return text.split(_text(sep, "split()"))


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return _text(item, "contains()") in container
    if isinstance(container, list | tuple | dict):
        return item in container
    raise _Failed(f"contains() expects a text, list or object, got {_kind(container)}")


def _replace(value: Any, old: Any, new: Any) -> str:
    text, old, new = _text(value, "replace()"), _text(old, "replace()"), _text(new, "replace()")
    hits = text.count(old) if old else len(text) + 1
    if len(text) + hits * max(len(new) - len(old), 0) > MAX_OUTPUT:
        raise _Failed(f"replace() would build more than {MAX_OUTPUT:,} characters")
    return text.replace(old, new)


def _join(items: Any, sep: Any = "") -> str:
    if not isinstance(items, list | tuple):
        raise _Failed(f"join() expects a list, got {_kind(items)}")
    parts = [_to_str(item) for item in items]
    sep = _text(sep, "join()")
    if sum(map(len, parts)) + len(sep) * max(len(parts) - 1, 0) > MAX_OUTPUT:
        raise _Failed(f"join() would build more than {MAX_OUTPUT:,} characters")
    return sep.join(parts)


def _matches(value: Any, pattern: Any) -> bool:
    text, pattern = _text(value, "matches()"), _text(pattern, "matches()")
    try:
        compiled = cached_regex(pattern)
    except regex_error as exc:
        raise _Failed(f"invalid regular expression {pattern!r}: {exc}") from None
    return search(compiled, text) is not None


def _get(mapping: Any, key: Any, default: Any = None) -> Any:
    if isinstance(mapping, dict):
        return mapping.get(key, default)
    if isinstance(mapping, list | tuple) and isinstance(key, int) and not isinstance(key, bool):
        return mapping[key] if -len(mapping) <= key < len(mapping) else default
    raise _Failed(f"get() expects an object or a list, got {_kind(mapping)}")


def _numbers(args: tuple[Any, ...], what: str) -> list[Any]:
    items = list(args[0]) if len(args) == 1 and isinstance(args[0], list | tuple) else list(args)
    if not items:
        raise _Failed(f"{what} of nothing")
    return items


def _round(value: Any, digits: Any = 0) -> float | int:
    number = _number(value, "round()")
    places = int(_number(digits, "round()"))
    return round(number) if places == 0 else round(number, places)


def _sum(items: Any) -> float | int:
    if not isinstance(items, list | tuple):
        raise _Failed(f"sum() expects a list, got {_kind(items)}")
    return sum(_number(item, "sum()") for item in items)


# name: (function, fewest arguments, most arguments (None: any), a line for the README)
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int | None, str]] = {
    "len": (_length, 1, 1, "characters of a text, items of a list or object"),
    "lower": (lambda s: _text(s, "lower()").lower(), 1, 1, "text in lower case"),
    "upper": (lambda s: _text(s, "upper()").upper(), 1, 1, "text in upper case"),
    "strip": (lambda s: _text(s, "strip()").strip(), 1, 1, "text without surrounding whitespace"),
    "split": (_split, 1, 2, "words (or parts between a separator)"),
    "lines": (lambda s: [line for line in _text(s, "lines()").splitlines() if line.strip()], 1, 1,
              "the non-blank lines"),
    "words": (lambda s: _text(s, "words()").split(), 1, 1, "the words (split on whitespace)"),
    "startswith": (lambda s, p: _text(s, "startswith()").startswith(_text(p, "startswith()")), 2, 2,
                   "text starts with a prefix"),
    "endswith": (lambda s, p: _text(s, "endswith()").endswith(_text(p, "endswith()")), 2, 2,
                 "text ends with a suffix"),
    "contains": (_contains, 2, 2, "text holds a part, list or object holds an item"),
    "count": (lambda s, p: _text(s, "count()").count(_text(p, "count()")), 2, 2, "occurrences of a part"),
    "replace": (_replace, 3, 3, "text with every old part replaced"),
    "join": (_join, 1, 2, "a list joined into a text"),
    "matches": (_matches, 2, 2, "a regular expression is found in the text (bounded search)"),
    "json": (_parse_json, 1, 1, "the JSON a text holds (as `.json`)"),
    "get": (_get, 2, 3, "a field or item, or a default when it is missing"),
    "keys": (lambda d: list(d) if isinstance(d, dict) else _fail_kind("keys()", d), 1, 1, "an object's keys"),
    "min": (lambda *a: min(_numbers(a, "min()")), 1, None, "the smallest of the arguments (or of a list)"),
    "max": (lambda *a: max(_numbers(a, "max()")), 1, None, "the largest of the arguments (or of a list)"),
    "sum": (_sum, 1, 1, "the sum of a list of numbers"),
    "abs": (lambda x: abs(_number(x, "abs()")), 1, 1, "absolute value"),
    "round": (_round, 1, 2, "a number rounded (to n places)"),
    "int": (_to_int, 1, 1, "a whole number from a number or text"),
    "float": (_to_float, 1, 1, "a number from a text"),
    "str": (_to_str, 1, 1, "a value as text (objects and lists as JSON)"),
    "bool": (lambda x: bool(x), 1, 1, "truthiness (empty, 0 and null are false)"),
    "any": (lambda x: any(x) if isinstance(x, list | tuple) else _fail_kind("any()", x), 1, 1, "a list has a true item"),
    "all": (lambda x: all(x) if isinstance(x, list | tuple) else _fail_kind("all()", x), 1, 1, "every item is true"),
}


def _fail_kind(what: str, value: Any) -> Any:
    raise _Failed(f"{what} does not apply to {_kind(value)}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a text", list: "a list",
             tuple: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: _contains(b, a), ast.NotIn: lambda a, b: not _contains(b, a),
}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**"}


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed expression: its text and syntax tree, checked against the language."""

    text: str
    tree: ast.expr
    threshold: float | None = None


def _where(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1


def _reject(node: ast.AST, message: str) -> ExpressionError:
    line, column = _where(node)
    return ExpressionError(message, line, column)


def parse_expression(text: str) -> Expression:
    """Parse and check an expression; ExpressionError names what is not allowed and where."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"an expression has at most {MAX_LENGTH:,} characters, this one {len(text):,}")
    source = " ".join(text.strip().splitlines())  # YAML's folded and block scalars; columns stay where they were
    if not source:
        raise ExpressionError("the expression is empty")
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"invalid syntax: {exc.msg}", exc.lineno or 1, exc.offset or 1) from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise ExpressionError(f"an expression has at most {MAX_NODES} parts, this one {len(nodes)}")
    called = {id(node.func) for node in nodes if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    for node in nodes:
        if id(node) not in called:  # a called name is checked against FUNCTIONS by _check_call
            _check_node(node)
    return Expression(text=source, tree=tree)


_ALLOWED = (ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.Compare, ast.Call, ast.Attribute, ast.Subscript, ast.Name,
            ast.Constant, ast.List, ast.Tuple, ast.IfExp, ast.Slice, ast.expr_context, ast.boolop, ast.operator,
            ast.unaryop, ast.cmpop)


def _check_node(node: ast.AST) -> None:
    if not isinstance(node, _ALLOWED):
        raise _reject(node, f"{_describe(node)} is not allowed in an expression")
    if isinstance(node, ast.Name) and node.id not in NAMES and node.id not in _CONSTANTS:
        if node.id in FUNCTIONS:
            raise _reject(node, f"{node.id} is a function: call it, e.g. {node.id}(output)")
        raise _reject(node, f"unknown name {node.id!r}; an expression reads {', '.join(NAMES)}")
    if isinstance(node, ast.Constant) and not isinstance(node.value, str | int | float | bool | type(None)):
        raise _reject(node, f"constant {node.value!r} is not allowed")
    if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
        raise _reject(node, f"field {node.attr!r} is not allowed (names starting with _ are private)")
    if isinstance(node, ast.operator) and type(node) not in _SYMBOL:
        raise ExpressionError(f"operator {type(node).__name__} is not allowed (use + - * / // % **)")
    if isinstance(node, ast.cmpop) and type(node) not in _COMPARE:
        raise ExpressionError(f"comparison {type(node).__name__} is not allowed (use == != < <= > >= in, not in)")
    if isinstance(node, ast.unaryop) and isinstance(node, ast.Invert):
        raise ExpressionError("operator ~ is not allowed")
    if isinstance(node, ast.Call):
        _check_call(node)


def _check_call(node: ast.Call) -> None:
    if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
        raise _reject(node, "calls take plain arguments (no name=value, no *)")
    if isinstance(node.func, ast.Name):
        name, count = node.func.id, len(node.args)
    elif isinstance(node.func, ast.Attribute):
        name, count = node.func.attr, len(node.args) + 1
    else:
        raise _reject(node, "only the listed functions may be called")
    if name not in FUNCTIONS:
        near = closest(name, FUNCTIONS)
        hint = f'did you mean "{near[0]}"?' if near else "the functions are listed in the README (Expressions)"
        raise _reject(node.func, f"unknown function {name!r}; {hint}")
    _, fewest, most, _ = FUNCTIONS[name]
    if count < fewest or (most is not None and count > most):
        wanted = str(fewest) if fewest == most else f"{fewest} to {most}" if most else f"at least {fewest}"
        raise _reject(node, f"{name}() takes {wanted} argument{'s' if most != 1 else ''}, got {count}")


def _describe(node: ast.AST) -> str:
    names = {"ListComp": "a comprehension", "GeneratorExp": "a comprehension", "DictComp": "a comprehension",
             "SetComp": "a comprehension", "Lambda": "lambda", "NamedExpr": "assignment (:=)",
             "Dict": "an object literal", "Set": "a set literal", "JoinedStr": "an f-string", "Await": "await",
             "Starred": "*"}
    return names.get(type(node).__name__, type(node).__name__)


class _Evaluator:
    """Walks a checked tree; records the values of fields and calls for the reason."""

    def __init__(self, run: CheckInput, text: str, deadline: float) -> None:
        self.run = run
        self.text = text
        self.deadline = deadline
        self.seen: dict[int, Any] = {}
        self.built = 0

    def eval(self, node: ast.expr) -> Any:
        if time.monotonic() > self.deadline:
            raise _Failed(f"the expression went over the time limit of {TIME_LIMIT_S:g} s")
        value = _size(self._eval(node))
        if isinstance(node, ast.BinOp | ast.Call) and isinstance(value, str | list):
            self.built += len(value)  # what one evaluation builds in all, not only each value, is bounded
            if self.built > _MAX_BUILT:
                raise _Failed(f"the expression built more than {_MAX_BUILT:,} characters or items in all")
        if isinstance(node, ast.Attribute | ast.Subscript | ast.Call | ast.Name):
            self.seen[id(node)] = value
        return value

    def _eval(self, node: ast.expr) -> Any:  # one branch per node kind
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.Attribute):
            return self._field(self.eval(node.value), node.attr, node)
        if isinstance(node, ast.Subscript):
            return self._item(node)
        if isinstance(node, ast.List | ast.Tuple):
            return [self.eval(item) for item in node.elts]
        if isinstance(node, ast.BoolOp):
            is_and = isinstance(node.op, ast.And)
            value: Any = is_and
            for item in node.values:
                value = self.eval(item)
                if bool(value) != is_and:
                    return value
            return value
        if isinstance(node, ast.UnaryOp):
            operand = self.eval(node.operand)
            if isinstance(node.op, ast.Not):
                return not operand
            number = _number(operand, "unary " + ("-" if isinstance(node.op, ast.USub) else "+"))
            return -number if isinstance(node.op, ast.USub) else number
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.Compare):
            left = self.eval(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = self.eval(right_node)
                try:
                    if not _COMPARE[type(op)](left, right):
                        return False
                except TypeError:
                    raise _Failed(f"cannot compare {_kind(left)} with {_kind(right)}") from None
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise _Failed(f"{_describe(node)} is not allowed")  # parse_expression rejected it already

    def _name(self, name: str) -> Any:
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        run, case = self.run, self.run.case
        if name == "output":
            return run.output
        if name == "expected":
            return case.expected
        if name == "vars":
            return dict(case.vars)
        if name == "case":
            return {"id": case.id, "tags": list(case.tags), "metadata": dict(case.metadata),
                    "expected": case.expected, "vars": dict(case.vars)}
        tool_calls = [{"name": call.name, "arguments": call.parsed_arguments(), "result": call.result,
                       "error": call.error} for call in run.tool_calls]
        return {"latency_ms": run.latency_ms, "cost_usd": run.cost_usd, "steps": run.steps,
                "escalated": run.escalated, "tool_calls": tool_calls,
                "tokens": {"input": run.tokens.input_tokens, "output": run.tokens.output_tokens,
                           "total": run.tokens.total}}

    def _path(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or "the value"

    def _field(self, value: Any, name: str, node: ast.Attribute) -> Any:
        if name == "json" and isinstance(value, str):
            try:
                return _parse_json(value)
            except _Failed:
                raise _Failed(f"{self._path(node.value)} is not JSON") from None
        if name in ("length", "size") and isinstance(value, str | list):
            return len(value)
        if isinstance(value, dict):
            if name not in value:
                raise _Failed(f"{self._path(node)} is missing ({self._path(node.value)} has no field {name!r})")
            return value[name]
        raise _Failed(f"{self._path(node.value)} is {_kind(value)}, it has no field {name!r}")

    def _item(self, node: ast.Subscript) -> Any:
        value = self.eval(node.value)
        if isinstance(node.slice, ast.Slice):
            bounds = [None if part is None else self.eval(part) for part in
                      (node.slice.lower, node.slice.upper, node.slice.step)]
            if not isinstance(value, str | list) or any(
                    b is not None and (not isinstance(b, int) or isinstance(b, bool)) for b in bounds):
                raise _Failed(f"cannot slice {_kind(value)} with {bounds}")
            if bounds[2] == 0:
                raise _Failed("a slice step of 0")
            return value[slice(*bounds)]
        key = self.eval(node.slice)
        if isinstance(value, dict):
            if not isinstance(key, str) or key not in value:
                raise _Failed(f"{self._path(node)} is missing ({self._path(node.value)} has no field {key!r})")
            return value[key]
        if isinstance(value, str | list):
            if not isinstance(key, int) or isinstance(key, bool):
                raise _Failed(f"{self._path(node.value)} is {_kind(value)}: index it with a number, got {key!r}")
            if not -len(value) <= key < len(value):
                raise _Failed(f"{self._path(node)} is missing ({self._path(node.value)} has {len(value)} items)")
            return value[key]
        raise _Failed(f"{self._path(node.value)} is {_kind(value)}, it cannot be indexed")

    def _binary(self, node: ast.BinOp) -> Any:
        left, right = self.eval(node.left), self.eval(node.right)
        op = type(node.op)
        symbol = _SYMBOL[op]
        if op is ast.Add and isinstance(left, str) and isinstance(right, str):
            if len(left) + len(right) > MAX_OUTPUT:
                raise _Failed(f"+ would build more than {MAX_OUTPUT:,} characters")
            return left + right
        if op is ast.Add and isinstance(left, list) and isinstance(right, list):
            if len(left) + len(right) > MAX_OUTPUT:
                raise _Failed(f"a list of more than {MAX_OUTPUT:,} items")
            return left + right
        if op is ast.Mult and isinstance(left, str | list) != isinstance(right, str | list):
            seq, times = (left, right) if isinstance(left, str | list) else (right, left)
            count = _number(times, "*")
            if not isinstance(count, int) or len(seq) * max(count, 0) > MAX_OUTPUT:
                raise _Failed(f"* would build more than {MAX_OUTPUT:,} characters or items")
            return seq * count
        a, b = _number(left, symbol), _number(right, symbol)
        try:
            if op is ast.Pow:
                if abs(b) > 1_000 or (isinstance(a, int) and isinstance(b, int) and a.bit_length() * abs(b) > _MAX_INT_BITS):
                    raise _Failed("** gives a number too large")
                result = a**b
                if isinstance(result, complex):
                    raise _Failed("** gives a complex number")
                return result
            return {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
                    ast.Div: lambda: a / b, ast.FloorDiv: lambda: a // b, ast.Mod: lambda: a % b}[op]()
        except ZeroDivisionError:
            raise _Failed(f"division by zero in {self._path(node)}") from None
        except OverflowError:
            raise _Failed(f"{self._path(node)} is too large a number") from None

    def _call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name):
            name, args = node.func.id, [self.eval(arg) for arg in node.args]
        else:
            assert isinstance(node.func, ast.Attribute)
            name = node.func.attr
            args = [self.eval(node.func.value), *(self.eval(arg) for arg in node.args)]
        function = FUNCTIONS[name][0]
        try:
            return function(*args)
        except _Failed:
            raise
        except (TypeError, ValueError, OverflowError) as exc:
            raise _Failed(f"{name}() failed: {exc}") from None


def _reason_values(tree: ast.expr, evaluator: _Evaluator) -> str:
    """`field = value` for the fields and calls the top-level comparisons read."""
    shown: list[str] = []
    stack = [tree]
    while stack and len(shown) < 4:
        node = stack.pop(0)
        if isinstance(node, ast.BoolOp):
            stack.extend(node.values)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            stack.append(node.operand)
        elif isinstance(node, ast.Compare):
            stack.extend([node.left, *node.comparators])
        elif id(node) in evaluator.seen and not isinstance(node, ast.Name) and node is not tree:
            shown.append(f"{evaluator._path(node)} = {render_json(evaluator.seen[id(node)], limit=50)}")
    return f" ({'; '.join(shown)})" if shown else ""


def compile_expr(raw: RawCheck) -> Expression:
    """`expr: "output.json.score >= 0.8"`, with an optional sibling `threshold:` for a numeric result."""
    text = expect_str(raw.value, raw.name, hint=' (an expression like "output.json.score >= 0.8")')
    try:
        expression = parse_expression(text)
    except ExpressionError as exc:
        from agent_eval.checks.snippets import snippet_to_expression

        translated = snippet_to_expression("javascript", text)  # a promptfoo one-liner pasted as it was
        if translated is not None:
            return compile_expr(RawCheck(name=raw.name, value=translated, options=raw.options, base_dir=raw.base_dir))
        shown = " ".join(text.strip().splitlines())
        shown = shown if len(shown) <= 60 else shown[:59] + "…"
        raise CheckSpecError(f"{exc} (at column {exc.column} of {shown!r})", key=raw.name) from None
    threshold = None
    if "threshold" in raw.options:
        threshold = positive_number(raw.options["threshold"], "threshold", what="a number in (0, 1]")
        if threshold > 1:
            raise CheckSpecError(f"expected a number in (0, 1], got {threshold}", key="threshold")
    return Expression(text=expression.text, tree=expression.tree, threshold=threshold)


def eval_expr(expression: Expression, run: CheckInput) -> tuple[bool, str] | tuple[bool, str, float | None]:
    """True passes; a number is a score; no value (a missing field, not JSON) fails with the reason."""
    evaluator = _Evaluator(run, expression.text, time.monotonic() + TIME_LIMIT_S)
    try:
        value = evaluator.eval(expression.tree)
    except _Failed as exc:
        return False, f"{expression.text}: {exc}"
    except RecursionError:
        return False, f"{expression.text}: the value is nested too deeply"
    values = _reason_values(expression.tree, evaluator)
    if isinstance(value, bool):
        return value, f"{expression.text} is {'true' if value else 'false'}{values}"
    if isinstance(value, int | float) and math.isfinite(value):
        score = min(max(float(value), 0.0), 1.0)
        passed = score >= expression.threshold if expression.threshold is not None else score > 0
        bar = f" (threshold {expression.threshold:g})" if expression.threshold is not None else ""
        return passed, f"{expression.text} = {value:g}{bar}{values}", score
    return False, f"{expression.text} gives {_kind(value)}, expected true, false or a number{values}"
