"""Check groups (promptfoo's assert-set): `any: [...]`, `all: [...]`, `at_least: {n, checks}`.

A group passes when any, all, or at least n of its checks pass; a weight-0 check inside counts
for neither. Its score is graded: `all` the weighted mean of its checks' scores, `any` the best
one, `at_least` the passing share of n (capped at 1). Groups nest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_eval.checks._util import RawCheck, expect_keys, type_name
from agent_eval.checks.base import Check, CheckInput, CheckSpecError, Verdict
from agent_eval.records import CheckResult

__all__ = ["GroupSpec", "compile_group", "eval_group", "eval_group_async", "group_verdict", "walk_checks"]


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A compiled group: its rule and its checks."""

    kind: str  # "any" | "all" | "at_least"
    need: int
    checks: tuple[Check, ...]

    @property
    def is_async(self) -> bool:
        return any(c.aevaluate is not None for c in self.checks)


def compile_group(raw: RawCheck) -> GroupSpec:
    """`any`/`all`: a list of check items; `at_least`: {n, checks}."""
    from agent_eval.checks.registry import compile_check

    value = raw.value
    need = 0
    if raw.name == "at_least":
        if not isinstance(value, Mapping):
            raise CheckSpecError(f"expected a mapping like {{n: 2, checks: [...]}}, got {type_name(value)}",
                                 key=raw.name)
        expect_keys(value, ("n", "checks"), owner=raw.name)
        need = value.get("n")  # type: ignore[assignment]
        if not isinstance(need, int) or isinstance(need, bool) or need < 1:
            raise CheckSpecError(f"n must be a whole number >= 1, got {need!r}", key="n")
        value = value.get("checks")
    if not isinstance(value, list) or not value:
        raise CheckSpecError(f"expected a non-empty list of checks, got {type_name(value)}", key=raw.name)
    checks: list[Check] = []
    for i, item in enumerate(value):
        try:
            checks.append(compile_check(item, base_dir=raw.base_dir, nested=True))
        except CheckSpecError as exc:
            raise CheckSpecError(f"{raw.name} item {i + 1}: {exc}", key=raw.name) from exc
    counted = sum(1 for c in checks if c.weight > 0)
    if raw.name == "at_least" and need > counted:
        raise CheckSpecError(f"n is {need} but the group has {counted} counted checks", key="n")
    if counted == 0:
        raise CheckSpecError("every check in the group has weight 0; nothing decides it", key=raw.name)
    return GroupSpec(kind=raw.name, need=need or (1 if raw.name == "any" else counted), checks=tuple(checks))


def group_verdict(spec: GroupSpec, results: Sequence[CheckResult]) -> Verdict:
    """The group's rule applied to its checks' results."""
    counted = [r for r in results if r.weight > 0]
    passing = [r for r in counted if r.passed]
    scores = [(r.score if r.score is not None else float(r.passed), r.weight) for r in counted]
    if spec.kind == "all":
        score = sum(s * w for s, w in scores) / sum(w for _, w in scores)
    elif spec.kind == "any":
        score = max(s for s, _ in scores)
    else:
        score = min(1.0, sum(s for s, _ in scores) / spec.need)
    passed = len(passing) >= spec.need
    shown = [r for r in counted if r.passed != passed] or counted
    detail = "; ".join(f"{r.name}: {r.reason}" for r in shown[:3])
    rule = {"any": "any", "all": "all", "at_least": f"at least {spec.need}"}[spec.kind]
    reason = f"{len(passing)} of {len(counted)} passed (need {rule}); {detail}"
    return passed, reason if len(reason) <= 300 else reason[:299] + "…", score


def eval_group(spec: GroupSpec, run: CheckInput) -> Verdict:
    """Run the group's checks (all synchronous) and apply its rule."""
    return group_verdict(spec, [check.run(run) for check in spec.checks])


async def eval_group_async(spec: GroupSpec, run: CheckInput) -> Verdict:
    """Run the group's checks, awaiting those that call a model, and apply its rule."""
    return group_verdict(spec, [await check.arun(run) for check in spec.checks])


def group_uses_model(spec: Any) -> bool:
    return isinstance(spec, GroupSpec) and spec.is_async


def walk_checks(checks: Sequence[Check]) -> list[Check]:
    """Every check, the ones inside groups included."""
    out: list[Check] = []
    for check in checks:
        out.append(check)
        if isinstance(check.arg, GroupSpec):
            out.extend(walk_checks(check.arg.checks))
    return out
