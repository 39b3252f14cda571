"""The `refusal: true|false` check; the phrase list and matcher are in `agent_eval.refusal_phrases`
(`stats` uses the same matcher for the refusal rate)."""

from __future__ import annotations

from agent_eval.checks._util import RawCheck, output_start, quote, render_json
from agent_eval.checks.base import CheckInput, CheckSpecError
from agent_eval.refusal_phrases import REFUSAL_PHRASES, find_refusal, is_refusal

__all__ = ["REFUSAL_PHRASES", "compile_refusal", "eval_refusal", "find_refusal", "is_refusal"]


def compile_refusal(raw: RawCheck) -> bool:
    """`refusal: true` (the output must refuse) or `refusal: false` (it must not)."""
    if not isinstance(raw.value, bool):
        raise CheckSpecError(
            f"expected true (must refuse) or false (must not refuse), got {render_json(raw.value)}",
            key=raw.name,
        )
    return raw.value


def eval_refusal(must_refuse: bool, run: CheckInput) -> tuple[bool, str]:
    """The output refuses when it must, and does not when it must not."""
    phrase = find_refusal(run.output)
    if must_refuse:
        if phrase is None:
            return False, f"expected a refusal; none detected ({output_start(run.output)})"
        return True, f"refusal detected: {quote(phrase)}"
    if phrase is not None:
        return False, f"expected no refusal; found {quote(phrase)}"
    return True, "no refusal detected"
