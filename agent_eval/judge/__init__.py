"""LLM-judge rubrics: prompt, call, tolerant parsing, self-consistency; `Judge` is what the runner needs of one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agent_eval.judge.grader import DEFAULT_TEMPLATE, NAMED_TEMPLATES, LLMJudge, load_template, template_path
from agent_eval.judge.parse import (
    JudgeError,
    JudgeReplyError,
    fence_untrusted,
    parse_reply,
)
from agent_eval.judge.protocol import Judge

if TYPE_CHECKING:
    from agent_eval.calls.budget import Budget
    from agent_eval.calls.endpoint import Endpoint
    from agent_eval.suite.case import Case
    from agent_eval.suite.loader import LoadedSuite
    from agent_eval.suite.schema import JudgeSpec

__all__ = [
    "DEFAULT_TEMPLATE", "NAMED_TEMPLATES", "Judge", "JudgeError", "JudgeReplyError", "LLMJudge", "build_judge", "fence_untrusted",
    "judge_provenance", "parse_reply",
]


def _template_path(suite: LoadedSuite) -> Path:
    judge = suite.spec.judge
    return suite.base_dir / judge.prompt if judge and judge.prompt else DEFAULT_TEMPLATE


def _named_template(suite: LoadedSuite, name: str) -> Path:
    """A rubric's `template:`: shipped by name, or a file next to the suite; anything else is an input error."""
    from agent_eval.errors import InputError

    path = template_path(name, suite.base_dir)
    if not path.is_file():
        shipped = ", ".join(sorted(NAMED_TEMPLATES))
        raise InputError(suite.path, f"unknown judge template {name!r}: expected {shipped} or a file relative to "
                         "the suite", field="rubrics.template")
    return path


def judge_provenance(suite: LoadedSuite, cases: Sequence[Case]) -> tuple[str | None, str | None]:
    """The judge model ids (sorted, comma-joined) and the prompt hash, when any case has rubrics."""
    specs = [r.judge or c.judge for c in cases for r in c.all_rubrics]
    models = sorted({m.name for spec in specs if spec is not None for m in (spec, *spec.ensemble)})
    if not models:
        return None, None
    digest = load_template(_template_path(suite))[1]
    named = sorted({r.template for c in cases for r in c.rubrics if r.template})
    if named:  # rubrics with their own template: every template's text is part of the judge's prompt
        from agent_eval._hashing import canonical_hash

        digest = canonical_hash([digest, *(load_template(_named_template(suite, n))[1] for n in named)])
    return ",".join(models), digest


def build_judge(
    suite: LoadedSuite, cases: Sequence[Case], budget: Budget, *, concurrency: int, seed: int, max_retries: int,
    timeout_s: float | None, max_wait_s: float = 600.0, max_retry_wait_s: float = 120.0,
) -> LLMJudge:
    """A judge whose endpoints use their own limits (never the candidate's flags)."""
    from agent_eval.calls import endpoint_for
    from agent_eval.providers.registry import check_credentials

    for case in cases:
        for rubric in case.all_rubrics:
            spec = rubric.judge or case.judge
            for member in (spec, *spec.ensemble) if spec is not None else ():
                check_credentials(member)
    template, _ = load_template(_template_path(suite))
    named = {r.template for c in cases for r in c.rubrics if r.template}
    templates = {name: load_template(_named_template(suite, name))[0] for name in sorted(named)}

    def make(spec: JudgeSpec) -> Endpoint:
        return endpoint_for(spec, concurrency=spec.limits.max_concurrency or concurrency,
                            rpm=spec.limits.rpm, tpm=spec.limits.tpm, max_retries=max_retries,
                            timeout_s=timeout_s or spec.timeout_s, max_wait_s=max_wait_s,
                            max_retry_wait_s=max_retry_wait_s)

    return LLMJudge(template=template, seed=seed, budget=budget, make_endpoint=make, templates=templates)
