"""Secrets out of every file: known secret values replaced by `SECRET_MASK` in text and in records.

The values come from `runner.secrets.secret_values` (every model's key, every `${VAR}` the suite and config
use); an endpoint that echoes one back must not put it in runs.jsonl, results.json, reports or traces.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

__all__ = ["SECRET_MASK", "mask_model", "mask_text", "usable_secrets"]

SECRET_MASK = "***"
_MIN_LENGTH = 4  # shorter values ("1", "dev") would mask ordinary words
M = TypeVar("M")


def usable_secrets(secrets: Sequence[str]) -> tuple[str, ...]:
    """The values worth masking, longest first (a key that contains another is masked whole)."""
    return tuple(sorted({s for s in secrets if s and len(s) >= _MIN_LENGTH}, key=len, reverse=True))


def mask_text(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret value replaced."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, SECRET_MASK)
    return text


def mask_model(model: M, secrets: Sequence[str]) -> M:
    """A pydantic model with every secret replaced in every string it holds (unchanged when none occurs)."""
    if not secrets:
        return model
    dumped: Any = model.model_dump_json()  # type: ignore[attr-defined]
    escaped = [json.dumps(s, ensure_ascii=False)[1:-1] for s in secrets]
    if not any(e in dumped for e in escaped):
        return model
    for value in escaped:
        dumped = dumped.replace(value, SECRET_MASK)
    return type(model).model_validate_json(dumped)  # type: ignore[attr-defined, no-any-return]
