"""Escalation checks: `escalated: true` (or false) and `not_escalated: true`.

Whether a run escalated comes from the config's `escalation:` (a tool call or a JSONPath of the
target's raw result); without it the checks fail and say that nothing was declared.
"""

from __future__ import annotations

from agent_eval.checks._util import RawCheck, type_name
from agent_eval.checks.base import CheckInput, CheckSpecError

__all__ = ["compile_escalated", "compile_true", "eval_escalated", "eval_not_escalated"]

_UNDECLARED = "the config declares no `escalation:` (tool or json_path), so escalation cannot be seen"


def compile_escalated(raw: RawCheck) -> bool:
    """`escalated: true` (the run must escalate) or `escalated: false` (it must not)."""
    if not isinstance(raw.value, bool):
        raise CheckSpecError(f"expected true or false, got {type_name(raw.value)}", key=raw.name)
    return raw.value


def compile_true(raw: RawCheck) -> bool:
    """`not_escalated: true`."""
    if raw.value is not True:
        raise CheckSpecError(f"expected true, got {type_name(raw.value)}", key=raw.name)
    return True


def eval_escalated(expected: bool, run: CheckInput) -> tuple[bool, str]:
    """The run escalated (or did not) as expected."""
    if run.escalated is None:
        return False, _UNDECLARED
    if run.escalated == expected:
        return True, "escalated to a human" if expected else "did not escalate"
    return False, "did not escalate, expected a handoff to a human" if expected else "escalated, expected no handoff"


def eval_not_escalated(enabled: bool, run: CheckInput) -> tuple[bool, str]:
    """The run did not escalate."""
    del enabled
    return eval_escalated(False, run)
