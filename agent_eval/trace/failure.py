"""Where a failed run went wrong, read from its trace: `tool`, `retrieval`, `orchestration` or `prompt`.

The rules, first match wins:
1. `orchestration` when the run hit its step limit (a root cause in itself);
2. `tool` when a tool errored or returned nothing (a retrieval tool returning nothing is `retrieval`; a custom
   agent's tool call reported without a result is not "nothing");
3. `retrieval` when the context-relevance rubric scored the retrieved context below its threshold, or the
   context is empty: a tool of `kind: retrieval` was called and returned nothing, or the config declares
   `retrieval:` and a custom agent (python, http, command) reported no `context`;
4. `orchestration` when the same tool was called twice with the same arguments, or the run took more
   than twice the baseline's median steps for its case;
5. `prompt` otherwise: the tools were fine and the final answer was wrong.

The steps of rule 4 are the only part that reads a baseline. A run is classified without one when it is
scored (`failure_kind` in runs.jsonl and results.json), and `failure_kind(run, median)` derives its kind
against whichever baseline a report or `compare` uses, so comparing one run with two baselines is consistent.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, get_args

from agent_eval.records import FailureKind, RunRecord, RunStatus, Span
from agent_eval.trace.trajectory import TrajectoryCall, executed_calls, iter_spans, run_steps

if TYPE_CHECKING:
    from agent_eval.records import Results

__all__ = [
    "CONTEXT_ATTRIBUTE",
    "FAILURE_KINDS",
    "RELEVANCE_TEMPLATE",
    "STOP_ATTRIBUTE",
    "FailurePolicy",
    "PastRuns",
    "baseline_failure_counts",
    "baseline_median_steps",
    "classify_failure",
    "failure_changes",
    "failure_counts",
    "failure_kind",
    "median_steps",
    "results_failure_counts",
    "results_failure_kinds",
    "retrieved_documents",
    "run_context",
    "with_context",
]

FAILURE_KINDS: tuple[FailureKind, ...] = get_args(FailureKind)
# Span attributes a target sets: the retrieved documents (AgentResult.context), and why the loop stopped.
CONTEXT_ATTRIBUTE = "agent_eval.context"
STOP_ATTRIBUTE = "agent_eval.stop_reason"
RELEVANCE_TEMPLATE = "context_relevance"
_STEP_LIMITS = frozenset({"agent.loop.max_steps", "max_steps"})


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """What the classifier needs besides the run: retrieval declarations and the baseline's steps."""

    retrieval: bool = False  # the config declares retrieval and the target reports its context
    retrieval_tools: frozenset[str] = frozenset()  # tools marked `kind: retrieval`
    relevance_rubrics: frozenset[str] = frozenset()  # rubrics graded with the context-relevance template
    baseline_steps: Mapping[str, float] = field(default_factory=dict)  # case id -> median steps
    # A custom agent may report a tool call without its result: None then means "not reported", not "nothing".
    null_is_nothing: bool = True

    @classmethod
    def from_config(cls, tools: Iterable[Mapping[str, Any]], retrieval: Mapping[str, Any],
                    relevance_rubrics: Iterable[str] = (), baseline_steps: Mapping[str, float] | None = None,
                    *, reports_context: bool = True) -> FailurePolicy:
        """The policy of a config's `tools:` and `retrieval:` blocks; `reports_context` is False for
        targets that cannot report a context (the prompt call and the tool loop)."""
        names = frozenset(_tool_name(t) for t in tools if t.get("kind") == "retrieval")
        return cls(retrieval=bool(retrieval) and reports_context, retrieval_tools=names,
                   relevance_rubrics=frozenset(relevance_rubrics), baseline_steps=dict(baseline_steps or {}),
                   null_is_nothing=not reports_context)


def classify_failure(run: RunRecord, policy: FailurePolicy = FailurePolicy(), *,
                     context: Sequence[str] = ()) -> FailureKind | None:
    """The failure kind of a failed run (None for a passed or errored one).

    `context` is the documents the target said it retrieved (`AgentResult.context`), besides those in the trace.
    """
    if run.status is not RunStatus.FAILED:
        return None
    if _hit_step_limit(run):
        return "orchestration"
    calls = executed_calls(run)
    retrieval_calls = [c for c in calls if c.name in policy.retrieval_tools]
    if any(c.error is not None or (_returned_nothing(c.result, policy) and c not in retrieval_calls) for c in calls):
        return "tool"
    if _irrelevant(run, policy) or _context_empty(run, retrieval_calls, context, policy):
        return "retrieval"
    if _repeated(calls) or _too_many_steps(run, policy):
        return "orchestration"
    return "prompt"


def run_context(spans: Sequence[Span]) -> tuple[str, ...]:
    """The retrieved documents a run's trace carries (the target's `AgentResult.context`)."""
    docs: list[str] = []
    for span in iter_spans(spans):
        value = span.attributes.get(CONTEXT_ATTRIBUTE)
        if isinstance(value, list | tuple):
            docs.extend(_text(v) for v in value)
        elif value:
            docs.append(_text(value))
    return tuple(docs)


def with_context(spans: tuple[Span, ...], context: Sequence[str]) -> tuple[Span, ...]:
    """The trace with the target's reported context (`AgentResult.context`) on its first span, so it is kept."""
    if not context or not spans:
        return spans
    first = spans[0]
    attributes = {**first.attributes, CONTEXT_ATTRIBUTE: list(context)}
    return (first.model_copy(update={"attributes": attributes}), *spans[1:])


def retrieved_documents(spans: Sequence[Span], context: Sequence[str], policy: FailurePolicy) -> tuple[str, ...]:
    """What the judge's faithfulness and relevance templates grade: the target's context, else the trace's,
    else the results of the tools marked `kind: retrieval`."""
    docs = tuple(context) or run_context(spans)
    if docs:
        return docs
    found: list[str] = []
    for span in iter_spans(spans):
        result = span.attributes.get("gen_ai.tool.call.result")
        if span.kind != "tool" or span.error is not None or span.attributes.get("gen_ai.tool.name") not in \
                policy.retrieval_tools or _empty(result):
            continue
        if isinstance(result, list):  # a list of passages: one document each
            found.extend(_text(doc) for doc in result)
        else:
            found.append(_text(result))
    return tuple(found)


def _hit_step_limit(run: RunRecord) -> bool:
    """The loop's own limit (`agent.loop.max_steps`) or a `max_steps` check of the case."""
    if any(s.attributes.get(STOP_ATTRIBUTE) == "max_steps" for s in iter_spans(run.trace)):
        return True
    return any(c.name in _STEP_LIMITS and not c.passed for c in run.checks)


def _returned_nothing(result: Any, policy: FailurePolicy) -> bool:
    return _empty(result) and (result is not None or policy.null_is_nothing)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | dict) and not value)


def _context_empty(run: RunRecord, retrieval_calls: Sequence[TrajectoryCall], context: Sequence[str],
                   policy: FailurePolicy) -> bool:
    if any(doc.strip() for doc in context) or run_context(run.trace):
        return False
    if retrieval_calls:
        return all(_empty(c.result) for c in retrieval_calls)
    return policy.retrieval


def _irrelevant(run: RunRecord, policy: FailurePolicy) -> bool:
    return any(r.name in policy.relevance_rubrics and r.passed is False for r in run.rubrics)


def _repeated(calls: Sequence[TrajectoryCall]) -> bool:
    seen = Counter((c.name, json.dumps(c.arguments, sort_keys=True, default=str)) for c in calls)
    return any(n > 1 for n in seen.values())


def _too_many_steps(run: RunRecord, policy: FailurePolicy) -> bool:
    median = policy.baseline_steps.get(run.case_id)
    steps = run_steps(run)
    return median is not None and steps is not None and steps > 2 * median


def _tool_name(tool: Mapping[str, Any]) -> str:
    spec = tool.get("function") if isinstance(tool.get("function"), Mapping) else tool
    return str(spec.get("name", ""))  # type: ignore[union-attr]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def failure_kind(run: RunRecord, baseline_median: float | None = None) -> FailureKind | None:
    """The run's failure kind against a baseline whose runs of this case took `baseline_median` steps (None:
    no baseline). The stored kind was classified without a baseline; a stored `orchestration` that neither
    the step limit nor a repeated call explains came from an older run's baseline and is reread."""
    kind = run.failure_kind
    if run.status is not RunStatus.FAILED or kind not in ("orchestration", "prompt"):
        return kind
    if kind == "orchestration" and (_hit_step_limit(run) or _repeated(executed_calls(run))):
        return kind
    steps = run_steps(run)
    return "orchestration" if baseline_median is not None and steps is not None and steps > 2 * baseline_median \
        else "prompt"


def results_failure_kinds(results: Results, baseline: PastRuns | None) -> dict[str, list[FailureKind | None]]:
    """Case id -> the failure kind of each run, against `baseline` (None: alone)."""
    medians = baseline_median_steps(baseline)
    return {c.id: [failure_kind(r, medians.get(c.id)) for r in c.runs] for c in results.cases}


def median_steps(steps: Iterable[int | None]) -> float | None:
    """The median of the steps recorded, or None when none were."""
    known = [s for s in steps if s is not None]
    return statistics.median(known) if known else None


class _PastRun(Protocol):
    @property
    def steps(self) -> int | None: ...

    @property
    def failure_kind(self) -> FailureKind | None: ...


class _PastCase(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def runs(self) -> Sequence[_PastRun]: ...


class PastRuns(Protocol):
    """What this module reads of a baseline (a `baseline.schema.Baseline`): its cases' runs."""

    @property
    def cases(self) -> Sequence[_PastCase]: ...


def baseline_median_steps(baseline: PastRuns | None) -> dict[str, float]:
    """Per case, the median steps of the baseline's runs that recorded them."""
    if baseline is None:
        return {}
    return {c.id: m for c in baseline.cases if (m := median_steps(r.steps for r in c.runs)) is not None}


def failure_counts(kinds: Iterable[FailureKind | None]) -> dict[FailureKind, int]:
    """Counts per kind, in the order of FAILURE_KINDS, zeros left out."""
    counted = Counter(k for k in kinds if k is not None)
    return {k: counted[k] for k in FAILURE_KINDS if counted[k]}


def results_failure_counts(results: Results, baseline: PastRuns | None = None) -> dict[FailureKind, int]:
    """Failure kinds over every run of a results file, against `baseline` when given."""
    return failure_counts(k for kinds in results_failure_kinds(results, baseline).values() for k in kinds)


def baseline_failure_counts(baseline: PastRuns) -> dict[FailureKind, int]:
    """Failure kinds over every run of a baseline."""
    return failure_counts(r.failure_kind for c in baseline.cases for r in c.runs)


def failure_changes(candidate: Mapping[FailureKind, int], baseline: Mapping[FailureKind, int] | None) -> list[str]:
    """One phrase per kind: '3 orchestration failures' alone, '3 new orchestration failures' against a baseline."""
    out = []
    for kind in FAILURE_KINDS:
        now = candidate.get(kind, 0)
        if baseline is None:
            if now:
                out.append(f"{now} {kind} failure{'s' if now != 1 else ''}")
            continue
        change = now - baseline.get(kind, 0)
        if change > 0:
            out.append(f"{change} new {kind} failure{'s' if change != 1 else ''}")
        elif change < 0:
            out.append(f"{-change} fewer {kind} failure{'s' if change != -1 else ''}")
    return out
