"""A small, safe arithmetic language for `derived_metrics` (parsed with `ast`, never evaluated by Python).

Allowed: numbers, names, `+ - * / **`, unary minus, parentheses, and the functions min, max,
abs and sqrt. A division by zero, or any name without a value, makes the result None.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["BUILTIN_NAMES", "Formula", "FormulaError", "parse_formula"]

# Names every formula may read besides the suite's metrics: counts over the group
BUILTIN_NAMES = ("runs", "cases", "passed")

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: _real(a**b),
}
_FUNCTIONS: dict[str, Callable[..., float]] = {"min": lambda *a: min(a), "max": lambda *a: max(a),
                                               "abs": abs, "sqrt": math.sqrt}
_ONE_ARGUMENT = ("abs", "sqrt")
_MAX_LENGTH = 500


class FormulaError(ValueError):
    """A formula uses something outside the allowed language."""


@dataclass(frozen=True, slots=True)
class Formula:
    """A parsed formula and the names it reads."""

    text: str
    tree: ast.expr
    names: frozenset[str]

    def evaluate(self, values: Mapping[str, float | None]) -> float | None:
        """The value, or None when a name has no value or the arithmetic is undefined (x / 0)."""
        return self.outcome(values)[0]

    def outcome(self, values: Mapping[str, float | None]) -> tuple[float | None, str | None]:
        """(value, None), or (None, why it has no value)."""
        try:
            result = _eval(self.tree, values)
        except ZeroDivisionError:
            return None, "division by zero"
        except OverflowError:
            return None, "too large a number"
        except ValueError:
            return None, "not a real number (e.g. the root of a negative number)"
        except _Missing as exc:
            return None, f"{exc} has no value"
        return (result, None) if math.isfinite(result) else (None, "not a finite number")


class _Missing(Exception):
    pass


def _real(value: complex) -> float:
    """A power of a negative number to a fraction is complex in Python: undefined here."""
    if isinstance(value, complex):
        raise ValueError("complex result")  # noqa: TRY004  # evaluate() reads ValueError as "not a real number"
    return value


def parse_formula(text: str) -> Formula:
    """Parse and check a formula; FormulaError says what is not allowed."""
    if len(text) > _MAX_LENGTH:
        raise FormulaError(f"formula longer than {_MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise FormulaError(f"cannot parse {text!r}: {exc.msg}") from None
    names: set[str] = set()
    functions = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if id(node) not in functions:  # min, max, abs, sqrt are not metrics
            _check(node, names)
    return Formula(text=text, tree=tree, names=frozenset(names))


def _check(node: ast.AST, names: set[str]) -> None:
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, int | float) or isinstance(node.value, bool):
            raise FormulaError(f"only numbers are allowed as constants, got {node.value!r}")
    elif isinstance(node, ast.Name):
        names.add(node.id)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise FormulaError(f"operator {type(node.op).__name__} is not allowed (use + - * / **)")
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise FormulaError(f"operator {type(node.op).__name__} is not allowed")
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
            raise FormulaError(f"only the functions {', '.join(_FUNCTIONS)} may be called")
        if not node.args:
            raise FormulaError(f"{node.func.id}() needs an argument")
        if node.func.id in _ONE_ARGUMENT and len(node.args) != 1:
            raise FormulaError(f"{node.func.id}() takes one argument")
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            raise FormulaError("* is not allowed in a call")
    elif not isinstance(node, ast.expr_context | ast.operator | ast.unaryop):
        raise FormulaError(f"{type(node).__name__} is not allowed in a formula")


def _eval(node: ast.expr, values: Mapping[str, float | None]) -> float:
    if isinstance(node, ast.Constant):
        return float(node.value)  # type: ignore[arg-type]  # _check allows numbers only
    if isinstance(node, ast.Name):
        value = values.get(node.id)
        if value is None:
            raise _Missing(node.id)
        return float(value)
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_eval(node.left, values), _eval(node.right, values))
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, values)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return float(_FUNCTIONS[node.func.id](*(_eval(arg, values) for arg in node.args)))
    raise FormulaError(f"{type(node).__name__} is not allowed")
