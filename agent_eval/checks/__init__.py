"""Deterministic checks: compile a suite's check items at load time, evaluate them per run.

    from agent_eval.checks import compile_check, CheckInput
    check = compile_check({"contains": "1234", "weight": 2}, base_dir=suite_dir)
    result = check.run(CheckInput(output=text, case=case))   # -> records.CheckResult

`CHECKS` maps each check name to its family; `check_names()` adds the `not_` forms. During a run,
`checks.runtime.CheckRunner` evaluates them with time limits (`python:` checks in worker processes).
"""

from agent_eval.checks.base import Check, CheckInput, CheckSpecError, Reason
from agent_eval.checks.refusal import REFUSAL_PHRASES, find_refusal, is_refusal
from agent_eval.checks.registry import CHECKS, Family, check_names, compile_check

__all__ = [
    "CHECKS",
    "REFUSAL_PHRASES",
    "Check",
    "CheckInput",
    "CheckSpecError",
    "Family",
    "Reason",
    "check_names",
    "compile_check",
    "find_refusal",
    "is_refusal",
]
