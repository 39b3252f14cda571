"""promptfoo's inline code assertions (`javascript:` and `python:` one-liners) as `expr:` expressions.

Only single expressions are translated, by rewriting a fixed list of spellings outside string literals
(`===`, `&&`, `!`, `JSON.parse(x)`, `.toLowerCase()`, `Math.max`, `/re/.test(x)`, `context.vars`, ...);
the result must then parse as an expression. Anything else (statements, functions, assignments) gives None:
the caller refuses it, because a data file never runs code.
"""

from __future__ import annotations

import json
import re

from agent_eval.checks.expression import ExpressionError, parse_expression

__all__ = ["snippet_to_expression"]

_STRING = re.compile(r"""("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')""")
_REGEX_TEST = re.compile(r"/((?:\\.|[^/\\\n])+)/([gimsuy]*)\.test\(((?:[^()]|\([^()]*\))*)\)")
_REGEX_MATCH = re.compile(r"([A-Za-z_][\w.]*(?:\(\))?(?:\.\w+(?:\(\))?)*)\.match\(/((?:\\.|[^/\\\n])+)/([gimsuy]*)\)")
_JS_STATEMENT = re.compile(r"=>|[{};`]|\b(?:let|const|var|function|new|if|for|while)\b|(?<![=!<>])=(?!=)")
_PY_STATEMENT = re.compile(r"[;:]\s*$|\b(?:import|lambda|def|for|while|if\s.*:)\b|(?<![=!<>])=(?!=)")
_JS_WORDS = [
    (re.compile(r"===?"), "=="), (re.compile(r"!==?"), "!="), (re.compile(r"&&"), " and "),
    (re.compile(r"\|\|"), " or "), (re.compile(r"!(?!=)"), " not "),
    (re.compile(r"\bJSON\.parse\("), "json("), (re.compile(r"\bMath\.(min|max|abs|round)\("), r"\1("),
    (re.compile(r"\bparseFloat\(|\bNumber\("), "float("), (re.compile(r"\bparseInt\("), "int("),
    (re.compile(r"\bString\("), "str("), (re.compile(r"\bObject\.keys\("), "keys("), (re.compile(r"\bBoolean\("), "bool("),
    (re.compile(r"\.toLowerCase\(\)"), ".lower()"), (re.compile(r"\.toUpperCase\(\)"), ".upper()"),
    (re.compile(r"\.trim\(\)"), ".strip()"), (re.compile(r"\.startsWith\("), ".startswith("),
    (re.compile(r"\.endsWith\("), ".endswith("), (re.compile(r"\.includes\("), ".contains("),
    (re.compile(r"\.split\(\s*/\\s\+/\s*\)"), ".split()"), (re.compile(r"\bcontext\.vars\b"), "vars"),
    (re.compile(r"\bundefined\b"), "null"),
]
_PY_WORDS = [(re.compile(r"\bjson\.loads\("), "json(")]
_PY_CONTEXT_VARS = re.compile(r"""\bcontext\[\s*["']vars["']\s*\]""")


def _outside_strings(code: str, rules: list[tuple[re.Pattern[str], str]]) -> str:
    parts = _STRING.split(code)
    for i in range(0, len(parts), 2):  # even parts are code, odd ones string literals
        for pattern, replacement in rules:
            parts[i] = pattern.sub(replacement, parts[i])
    return "".join(parts)


def _regex_call(subject: str, pattern: str, flags: str) -> str:
    inline = "".join(f for f in flags if f in "ims")
    return f"matches({subject}, {json.dumps(f'(?{inline})' + pattern if inline else pattern)})"


def _regex_test(match: re.Match[str]) -> str:
    return _regex_call(match.group(3), match.group(1), match.group(2))


def snippet_to_expression(kind: str, code: str) -> str | None:
    """The `expr:` text for a `javascript` or `python` one-liner, or None when it is not a single expression."""
    text = code.strip()
    text = re.sub(r"^return\s+", "", text).rstrip(";").strip()
    if not text or "\n" in text:
        return None
    if kind == "javascript":
        text = _REGEX_TEST.sub(_regex_test, text)
        text = _REGEX_MATCH.sub(lambda m: _regex_call(m.group(1), m.group(2), m.group(3)), text)
        if _JS_STATEMENT.search(_STRING.sub('""', text)):
            return None
        text = _outside_strings(text, _JS_WORDS)
    elif kind == "python":
        if _PY_STATEMENT.search(_STRING.sub('""', text)):
            return None
        text = _outside_strings(_PY_CONTEXT_VARS.sub("vars", text), _PY_WORDS)
    else:
        return None
    text = " ".join(text.split())
    try:
        parse_expression(text)
    except ExpressionError:
        return None
    return text
