"""Re-judge labelled outputs with the suite's current judge and prompt (what `calibrate` measures)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from agent_eval.calibration.labels import Label
from agent_eval.suite.loader import LoadedSuite

__all__ = ["Judged", "rejudge"]


@dataclass(frozen=True, slots=True)
class Judged:
    """One label and the current judge's score of its output (per ensemble judge, in order)."""

    label: Label
    score: float
    by_judge: tuple[float, ...]
    judge_model: str


async def rejudge(suite: LoadedSuite, labels: Sequence[Label], *, seed: int = 0, concurrency: int = 8,
                  timeout_s: float | None = None) -> tuple[list[Judged], list[str]]:
    """(judged labels, warnings): labels of unknown cases or rubrics, other scales and judge errors are skipped."""
    from agent_eval.calls.budget import Budget
    from agent_eval.judge import JudgeError, build_judge

    cases = {c.id: c for c in suite.cases}
    work = []
    warnings: list[str] = []
    for label in labels:
        case = cases.get(label.case_id)
        rubric = next((r for r in case.rubrics if r.name == label.rubric), None) if case else None
        if case is None or rubric is None:
            warnings.append(f"label {label.case_id}/{label.rubric}: no such case and rubric in the suite; skipped")
        elif tuple(rubric.scale) != tuple(label.scale):
            warnings.append(f"label {label.case_id}/{label.rubric}: scored on {list(label.scale)}, the rubric now "
                            f"uses {list(rubric.scale)}; skipped")
        else:
            work.append((label, dataclasses.replace(case, rubrics=(rubric,))))
    if not work:
        return [], warnings
    judge = build_judge(suite, [c for _, c in work], Budget(), concurrency=concurrency, seed=seed, max_retries=8,
                        timeout_s=timeout_s)
    gate = asyncio.Semaphore(concurrency)

    async def one(label: Label, case: object) -> Judged | str:
        async with gate:
            try:
                (result,) = await judge.grade(case, label.messages, label.output, 0)  # type: ignore[arg-type]
            except JudgeError as exc:
                return f"label {label.case_id}/{label.rubric}: judge error: {exc}"
        assert result.score is not None
        return Judged(label, result.score, _per_judge(result.samples, result.judge_model), result.judge_model)

    try:
        outcomes = await asyncio.gather(*(one(label, case) for label, case in work))
    finally:
        await judge.aclose()
    judged = [o for o in outcomes if isinstance(o, Judged)]
    warnings += [o for o in outcomes if isinstance(o, str)]
    return judged, warnings


def _per_judge(samples: Sequence[float], judge_model: str) -> tuple[float, ...]:
    """The mean score of each ensemble judge (samples are judge-major); one value for a single judge."""
    judges = max(1, len(judge_model.split(",")))
    if len(samples) % judges:
        return (sum(samples) / len(samples),) if samples else ()
    size = len(samples) // judges
    return tuple(sum(samples[i * size:(i + 1) * size]) / size for i in range(judges))
