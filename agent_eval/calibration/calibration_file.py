"""The calibration file: the last `agent-eval calibrate` of a suite, read back by the reports.

`golden/labels/<suite>.calibration.json` (`agent-eval schema calibration`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field, ValidationError

from agent_eval.calibration.agreement import MIN_LABELS, TRUST_THRESHOLD, agreement
from agent_eval.calibration.rejudge import Judged
from agent_eval.errors import InputError
from agent_eval.records import Record

__all__ = ["CALIBRATION_SCHEMA_VERSION", "Calibration", "RubricCalibration", "build_calibration",
           "calibration_line", "calibration_path", "read_calibration"]

CALIBRATION_SCHEMA_VERSION = 1
_LENGTH_BIAS = 0.3  # |Spearman(length, judge - human)| from which the judge is said to reward (or punish) length


class RubricCalibration(Record):
    """Judge-versus-human agreement on one rubric."""

    rubric: str
    n: int = Field(description="Labelled outputs re-judged.")
    scale: tuple[int, int]
    kappa: float | None = Field(description="Quadratic-weighted Cohen's kappa (plain kappa on a 2-point scale).")
    kappa_ci: tuple[float, float] | None = Field(description="95% jackknife interval.")
    spearman: float | None
    confusion: list[list[int]] = Field(description="Rows: human score; columns: judge score; low to high.")
    bias: float = Field(description="Mean (judge - human), in scale points.")
    false_pass_rate: float | None = Field(description="Share of human-failed outputs the judge passed.")
    false_fail_rate: float | None = Field(description="Share of human-passed outputs the judge failed.")
    length_judge: float | None = Field(description="Spearman(output length, judge score).")
    length_human: float | None = Field(description="Spearman(output length, human score).")
    length_residual: float | None = Field(description="Spearman(output length, judge - human): length bias.")
    judge_disagreement: float | None = Field(None, description="Ensemble: mean range of the judges' scores / scale.")
    escalations: int = Field(0, description="Ensemble: outputs the judges disagree on pass or fail.")
    trustworthy: bool
    more_labels: int | None = Field(description="Labels that would settle it if kappa held; None: fix the rubric.")
    advice: str


class Calibration(Record):
    """The last calibration of a suite's judge against human labels."""

    schema_version: int = CALIBRATION_SCHEMA_VERSION
    suite: str
    created_at: str = Field(description="When it ran (ISO 8601, UTC).")
    judge_model: str | None
    judge_prompt_hash: str | None = Field(description="The judge template's hash; a later change makes this stale.")
    labels: int = Field(description="Labels read.")
    judged: int = Field(description="Labels re-judged (the others were skipped or errored).")
    trustworthy: bool = Field(description=f"Every rubric has {MIN_LABELS}+ labels and a kappa lower bound >= "
                              f"{TRUST_THRESHOLD}.")
    rubrics: tuple[RubricCalibration, ...]


def calibration_path(folder: Path, suite: str) -> Path:
    return folder / f"{suite}.calibration.json"


def _advice(rubric: str, kappa: float | None, ci: tuple[float, float] | None, more: int | None,
            residual: float | None, bias: float, trusted: bool) -> str:
    if trusted:
        text = "trustworthy"
    elif kappa is None or ci is None:
        text = "not enough variety to measure: label outputs the judge and humans score differently"
    elif more is None:
        text = (f"fix rubric '{rubric}': the judge agrees too little with humans (kappa {kappa:.2f} <= "
                f"{TRUST_THRESHOLD}); sharpen its criteria or steps, or change the judge")
    else:
        text = f"about {more} more label(s) would settle it, if agreement holds at kappa {kappa:.2f}"
    if residual is not None and abs(residual) >= _LENGTH_BIAS:
        text += f"; length bias: the judge {'rewards' if residual > 0 else 'punishes'} longer outputs more than humans"
    if abs(bias) >= 0.5:
        text += f"; the judge scores {abs(bias):.1f} point(s) {'higher' if bias > 0 else 'lower'} than humans"
    return text


def _ensemble(items: Sequence[Judged], scale: tuple[int, int], threshold: float) -> tuple[float | None, int]:
    spreads = [max(j.by_judge) - min(j.by_judge) for j in items if len(j.by_judge) > 1]
    if not spreads:
        return None, 0
    split = sum(1 for j in items if len(j.by_judge) > 1 and len({s >= threshold for s in j.by_judge}) > 1)
    return sum(spreads) / len(spreads) / (scale[1] - scale[0]), split


def build_calibration(suite: str, judged: Sequence[Judged], labels: int, *, judge_model: str | None,
                      prompt_hash: str | None, now: str) -> Calibration:
    """Per-rubric agreement and the overall verdict."""
    by_rubric: dict[str, list[Judged]] = {}
    for item in judged:
        by_rubric.setdefault(item.label.rubric, []).append(item)
    rubrics = []
    for name, items in sorted(by_rubric.items()):
        scale, threshold = items[0].label.scale, items[0].label.threshold
        fig = agreement([j.score for j in items], [j.label.human_score for j in items],
                        [len(j.label.output) for j in items], scale, threshold,
                        [j.label.weight for j in items])
        spread, split = _ensemble(items, scale, threshold)
        rubrics.append(RubricCalibration(
            rubric=name, n=fig.n, scale=scale, kappa=fig.kappa, kappa_ci=fig.kappa_ci, spearman=fig.spearman,
            confusion=fig.confusion, bias=fig.bias, false_pass_rate=fig.false_pass_rate,
            false_fail_rate=fig.false_fail_rate, length_judge=fig.length_judge, length_human=fig.length_human,
            length_residual=fig.length_residual, judge_disagreement=spread, escalations=split,
            trustworthy=fig.trustworthy, more_labels=fig.more_labels,
            advice=_advice(name, fig.kappa, fig.kappa_ci, fig.more_labels, fig.length_residual, fig.bias,
                           fig.trustworthy),
        ))
    return Calibration(suite=suite, created_at=now, judge_model=judge_model, judge_prompt_hash=prompt_hash,
                       labels=labels, judged=len(judged), trustworthy=bool(rubrics) and all(r.trustworthy for r in rubrics),
                       rubrics=tuple(rubrics))


def read_calibration(path: Path) -> Calibration | None:
    """The calibration file, or None when there is none; a malformed one is an InputError."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(path, f"invalid JSON: {exc}") from None
    if isinstance(data, dict) and int(data.get("schema_version", 1)) > CALIBRATION_SCHEMA_VERSION:
        raise InputError(path, f"calibration schema_version {data['schema_version']} is newer than this agent-eval "
                         f"reads ({CALIBRATION_SCHEMA_VERSION})")
    try:
        return Calibration.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(path, first["msg"], field=".".join(map(str, first["loc"]))) from None


def calibration_line(suite: str, suite_path: str, judge_model: str | None, judge_prompt_hash: str | None) -> str | None:
    """One line for the reports: the last calibration of this suite's judge and its date, or None."""
    from agent_eval.calibration.labels import labels_folder

    if judge_model is None:
        return None
    folder = labels_folder(suite_path)
    try:
        found = read_calibration(calibration_path(folder, suite))
    except InputError:
        return None
    if found is None:
        return None
    state = "trustworthy" if found.trustworthy else "NOT trustworthy"
    figures = "; ".join(
        f"{r.rubric}: weighted kappa {r.kappa:.2f}" + (f" [{r.kappa_ci[0]:.2f}, {r.kappa_ci[1]:.2f}]" if r.kappa_ci else "")
        for r in found.rubrics if r.kappa is not None)
    line = f"Judge calibration ({found.created_at[:10]}, {found.judged} labels): {state}" + (f"; {figures}" if figures else "")
    if found.judge_model != judge_model or found.judge_prompt_hash != judge_prompt_hash:
        line += "; stale: the judge model or prompt changed since, run `agent-eval calibrate` again"
    return line
