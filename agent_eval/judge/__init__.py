"""LLM-judge rubrics: prompt, call, tolerant parsing, self-consistency."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agent_eval.judge.grader import DEFAULT_TEMPLATE, LLMJudge, load_template
from agent_eval.judge.parse import (
    JudgeError,
    JudgeReplyError,
    fence_untrusted,
    parse_reply,
)

if TYPE_CHECKING:
    from agent_eval.calls.budget import Budget
    from agent_eval.calls.endpoint import Endpoint
    from agent_eval.suite.case import Case
    from agent_eval.suite.loader import LoadedSuite
    from agent_eval.suite.schema import JudgeSpec

__all__ = [
    "DEFAULT_TEMPLATE", "JudgeError", "JudgeReplyError", "LLMJudge", "build_judge", "fence_untrusted",
    "judge_provenance", "parse_reply",
]


def _template_path(suite: LoadedSuite) -> Path:
    judge = suite.spec.judge
    return suite.base_dir / judge.prompt if judge and judge.prompt else DEFAULT_TEMPLATE


def judge_provenance(suite: LoadedSuite, cases: Sequence[Case]) -> tuple[str | None, str | None]:
    """The judge model ids (sorted, comma-joined) and the prompt hash, when any case has rubrics."""
    specs = [r.judge or c.judge for c in cases for r in c.rubrics]
    models = sorted({m.name for spec in specs if spec is not None for m in (spec, *spec.ensemble)})
    if not models:
        return None, None
    return ",".join(models), load_template(_template_path(suite))[1]


def build_judge(
    suite: LoadedSuite, cases: Sequence[Case], budget: Budget, *, concurrency: int, seed: int, max_retries: int,
    timeout_s: float | None,
) -> LLMJudge:
    """A judge whose endpoints use their own limits (never the candidate's flags)."""
    from agent_eval.calls import endpoint_for
    from agent_eval.providers.registry import check_credentials

    for case in cases:
        for rubric in case.rubrics:
            spec = rubric.judge or case.judge
            for member in (spec, *spec.ensemble) if spec is not None else ():
                check_credentials(member)
    template, _ = load_template(_template_path(suite))

    def make(spec: JudgeSpec) -> Endpoint:
        return endpoint_for(spec, concurrency=spec.limits.max_concurrency or concurrency,
                            rpm=spec.limits.rpm, tpm=spec.limits.tpm, max_retries=max_retries,
                            timeout_s=timeout_s or spec.timeout_s)

    return LLMJudge(template=template, seed=seed, budget=budget, make_endpoint=make)
