"""Text from a model, a tool or a server, made safe to keep: valid Unicode, and JSON parsed without crashing.

A reply may hold a lone UTF-16 surrogate (half of an emoji split by a broken tokenizer or
gateway); such a string cannot be written as UTF-8, so it is replaced by U+FFFD where the text
enters our records and the run says so. JSON nested deeper than Python can recurse is a parse
failure with a reason, like any other invalid JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

__all__ = [
    "NESTED_TOO_DEEPLY",
    "UntrustedJSONError",
    "clean_json_text",
    "clean_model",
    "clean_text",
    "clean_value",
    "dump_json",
    "invalid_unicode_warning",
    "parse_json",
]

NESTED_TOO_DEEPLY = "nested too deeply to parse"

# A \uD800-\uDFFF escape in JSON text that is not half of a valid pair.
_ESCAPED_LONE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


M = TypeVar("M", bound=BaseModel)


class UntrustedJSONError(ValueError):
    """Text that is not JSON we can use (invalid, or nested too deeply)."""


def clean_text(text: str) -> tuple[str, int]:
    """The text with invalid code points replaced by U+FFFD, and how many were replaced.

    A high and a low surrogate next to each other are joined into the character they encode.
    """
    if text.isascii():
        return text, 0
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        joined = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return joined, joined.count("\ufffd") - text.count("\ufffd")
    return text, 0


def clean_json_text(text: str) -> tuple[str, int]:
    """JSON text (e.g. tool-call arguments) cleaned of raw and of escaped lone surrogates."""
    text, count = clean_text(text)
    if "\\u" in text:
        text, escaped = _ESCAPED_LONE.subn(r"\\ufffd", text)
        count += escaped
    return text, count


def clean_value(value: Any) -> tuple[Any, int]:
    """A JSON-like value (str, list, tuple, dict) with every string cleaned, and the replacements made."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        total = 0
        out: dict[Any, Any] = {}
        for key, item in value.items():
            key, k = clean_value(key)
            out[key], n = clean_value(item)
            total += k + n
        return out, total
    if isinstance(value, list | tuple):
        cleaned = [clean_value(item) for item in value]
        return type(value)(item for item, _ in cleaned), sum(n for _, n in cleaned)
    return value, 0


def clean_model(model: M) -> tuple[M, int]:
    """A copy of a pydantic model with every string cleaned (the slow path, when it cannot be written)."""
    data, count = clean_value(model.model_dump())
    return type(model).model_validate(data), count


def dump_json(model: M, *, indent: int | None = None) -> tuple[M, str]:
    """The model and its JSON; a model holding invalid Unicode is cleaned first (and returned cleaned)."""
    try:
        return model, model.model_dump_json(indent=indent)
    except PydanticSerializationError:
        model, _ = clean_model(model)
        return model, model.model_dump_json(indent=indent)


def invalid_unicode_warning(count: int, where: str) -> str:
    """The run's warning when `count` code points were replaced in `where`."""
    points = "code point" if count == 1 else "code points"
    return f"{where}: replaced {count} invalid Unicode {points} (lone UTF-16 surrogates) with U+FFFD"


def parse_json(text: str) -> Any:
    """json.loads that raises UntrustedJSONError, never RecursionError, on text from outside."""
    try:
        return json.loads(text)
    except RecursionError:
        raise UntrustedJSONError(NESTED_TOO_DEEPLY) from None
    except json.JSONDecodeError as exc:
        raise UntrustedJSONError(f"{exc.msg} at line {exc.lineno} col {exc.colno}") from None
    except ValueError as exc:
        raise UntrustedJSONError(str(exc)) from None
