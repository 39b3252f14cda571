"""What a run produces: the records written to `runs.jsonl` and `results.json`.

Everything here goes to disk, so it is a frozen pydantic model with `extra="forbid"`.
Transient values that never leave memory (requests, completions) live in
`agent_eval.providers.base` as frozen dataclasses.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent_eval.untrusted import parse_json

__all__ = [
    "RESULTS_SCHEMA_VERSION",
    "CaseResult",
    "CaseStats",
    "CheckResult",
    "ConfigInfo",
    "ContentPart",
    "DerivedMetric",
    "FailureKind",
    "GroupStats",
    "Message",
    "MetricStats",
    "Record",
    "Results",
    "RubricResult",
    "RunError",
    "RunRecord",
    "RunStatus",
    "SimulatorUsage",
    "Span",
    "SuiteInfo",
    "Summary",
    "ToolCall",
    "TurnResult",
    "Usage",
]

RESULTS_SCHEMA_VERSION = 1


class Record(BaseModel):
    """Base of every on-disk record: immutable, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RunStatus(StrEnum):
    """Outcome of one run. An errored run is missing data, never a failure."""

    PASSED = "passed"
    FAILED = "failed"
    ERRORED = "errored"


class ToolCall(Record):
    """A tool call the model asked for and, when the target executed it, its result or error."""

    id: str = ""
    name: str
    arguments: str = Field("", description="The arguments as the model wrote them (JSON text).")
    result: Any = Field(None, description="What the tool returned (executed calls only).")
    error: str | None = Field(None, description="Why the tool failed: unknown tool, or the exception it raised.")

    def parsed_arguments(self) -> Any:
        """The arguments decoded from JSON, or the raw text when they are not JSON (or nested too deeply)."""
        try:
            return parse_json(self.arguments) if self.arguments else {}
        except ValueError:
            return self.arguments


class ContentPart(Record):
    """An image, PDF or audio clip sent with a message's text: inline (base64 `data`) or by `url`."""

    type: Literal["image", "pdf", "audio"]
    media_type: str = Field(description="e.g. image/png, application/pdf, audio/wav.")
    data: str | None = Field(None, description="Base64 of the bytes.")
    url: str | None = Field(None, description="An http(s) URL the provider fetches (images only).")
    name: str | None = Field(None, description="The file it was read from, or a label.")

    @property
    def label(self) -> str:
        """How the part reads in text (the mock's matching, judges): `[image: receipt.png]`."""
        return f"[{self.type}: {self.name or self.url or self.media_type}]"

    def data_url(self) -> str:
        return self.url if self.url is not None else f"data:{self.media_type};base64,{self.data or ''}"


class Message(Record):
    """One chat message, as sent to or received from a model."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    parts: tuple[ContentPart, ...] = Field(
        (), exclude_if=lambda value: not value, description="Images, PDFs or audio sent after the text (user turns).")


class Usage(Record):
    """Tokens a call consumed, as the provider reported them (or estimated from text when it reported none)."""

    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = Field(False, description="True when the provider reported no usage and the counts are "
                                               "estimated from text (about 4 characters a token).")

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


class CheckResult(Record):
    """Result of one deterministic check on one run."""

    name: str = Field(description="The check as written, e.g. 'contains' or 'not_regex'.")
    passed: bool
    weight: float = Field(1.0, description="0 for an informational check: it affects neither score nor pass.")
    reason: str = Field(description="One line: what was expected and what was found.")
    score: float | None = Field(None, exclude_if=lambda value: value is None,
                                description="A graded check's score in [0, 1]; absent: 1 if passed else 0.")
    metric: str | None = Field(None, exclude_if=lambda value: value is None,
                               description="The named metric this check feeds, if any.")
    named_scores: dict[str, float] = Field(
        {}, exclude_if=lambda value: not value,
        description="Named metrics a python check returned (promptfoo's named_scores).")


class RubricResult(Record):
    """One LLM-judge rubric applied to one run."""

    name: str
    metric: str | None = Field(None, exclude_if=lambda value: value is None,
                               description="The named metric this rubric feeds, if any.")
    score: float | None = Field(None, description="Mean raw score on the rubric's scale.")
    normalized: float | None = Field(None, description="(score - min) / (max - min), in [0, 1].")
    passed: bool | None = None
    threshold: float
    scale: tuple[int, int] = (1, 5)
    weight: float = 1.0
    samples: tuple[float, ...] = ()
    reasoning: str = ""
    judge_model: str = ""
    error: str | None = None
    tokens: Usage = Field(Usage(), description="The judge's tokens, separate from the candidate's.")
    cost_usd: float | None = None
    latency_ms: float | None = None
    trace: tuple[Span, ...] = Field(
        (), description="The judge's calls, a tree of their own (kind 'judge'); offsets from this rubric's first call.")
    warnings: tuple[str, ...] = Field((), description="What was repaired in the judge's replies (invalid Unicode).")


class RunError(Record):
    """Why a run has no verdict: the provider, the judge, a timeout or the budget; `target` is the agent's own
    crash (an exception or a non-zero exit), which the gate scores as a failed run, not as missing data."""

    kind: Literal["provider", "judge", "timeout", "budget", "interrupted", "internal", "target"]
    message: str
    status: int | None = None
    attempts: int = 1
    detail: str | None = Field(None, description="A target crash's traceback or stderr (shown with -v).")


class Span(Record):
    """One node of a run's trace: an agent step, a model call, a tool call, a judge call or a simulated user's turn.

    `attributes` use the OpenTelemetry GenAI semantic-convention names where one exists
    (`gen_ai.request.model`, `gen_ai.usage.input_tokens`, `gen_ai.tool.name`, ...).
    """

    kind: Literal["agent", "model", "tool", "judge", "user"]
    name: str
    start_ms: float = Field(0.0, description="Offset from the start of the run.")
    duration_ms: float | None = None
    attributes: dict[str, Any] = {}
    error: str | None = None
    children: tuple[Span, ...] = ()


FailureKind = Literal["tool", "retrieval", "orchestration", "prompt"]


class TurnResult(Record):
    """One assistant turn of a conversation: what the user said, the reply, and that turn's verdict."""

    index: int = Field(description="1-based turn number.")
    user: str
    output: str
    passed: bool | None = Field(None, description="None when the turn has no checks or rubrics of its own.")
    score: float | None = None
    checks: tuple[CheckResult, ...] = ()
    rubrics: tuple[RubricResult, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()


class SimulatorUsage(Record):
    """A simulated user's side of a conversation: its calls, priced and counted apart from the agent's."""

    model: str
    calls: int = 0
    tokens: Usage = Usage()
    cost_usd: float | None = None
    stop: str = Field(description="goal_reached | phrase | tool | escalated | max_turns | ended | error")
    goal_reached: bool = False


class RunRecord(Record):
    """One execution of one case: one line of `runs.jsonl`."""

    case_id: str
    index: int = Field(description="Repetition index, 0-based.")
    status: RunStatus
    passed: bool = Field(description="True when every check and rubric passed.")
    score: float | None = Field(None, description="Weighted mean of checks and rubrics, in [0, 1].")
    output: str = ""
    messages: tuple[Message, ...] = Field(
        (), description="The messages sent to the model; for an agent, its transcript up to the final answer.")
    tool_calls: tuple[ToolCall, ...] = Field((), description="Tool calls made; an agent's carry result or error.")
    tokens: Usage = Field(Usage(), description="Tokens in and out, as the provider reported them.")
    cost_usd: float | None = None
    latency_ms: float | None = None
    checks: tuple[CheckResult, ...] = ()
    rubrics: tuple[RubricResult, ...] = ()
    error: RunError | None = None
    cached: bool = False
    attempts: int = 1
    model: str = Field("", description="The model id the provider reported.")
    finished_at: str = ""
    trace: tuple[Span, ...] = Field((), description="The run's spans (agent steps, model and tool calls).")
    steps: int | None = Field(None, description="Model calls the target made (1 for a plain prompt call).")
    failure_kind: FailureKind | None = Field(None, description="Where a failed run went wrong, from its trace.")
    turns: tuple[TurnResult, ...] | None = Field(None, description="A conversation's turns, each with its verdict.")
    simulated_user: SimulatorUsage | None = Field(None, description="The simulated user's calls and why it stopped.")
    escalated: bool | None = Field(None, description="Handed off to a human (None: no `escalation:` declared).")
    refused: bool | None = Field(
        None, description="The reply reads as a refusal (a REFUSAL_PHRASES match), decided when the run was scored; "
        "None in files written before it was recorded: read from the output then.")
    warnings: tuple[str, ...] = Field(
        (), description="What was repaired to keep the run, e.g. invalid Unicode in the reply replaced by U+FFFD, "
                        "and what the gateway noticed of an agent's calls (another model, a translated request).")
    rerun: bool = Field(False, description="This record is the end-of-run re-run of a run that a provider, timeout "
                        "or judge error left without a verdict (the first record stays in runs.jsonl).")


class CaseStats(Record):
    """The k runs of one case reduced to numbers; errored runs are left out of the rates."""

    n: int = Field(description="Completed (non-errored) runs.")
    passed: int
    errors: int
    k: int
    pass_rate: float | None
    pass_hat_k: float | None = Field(description="Probability that k runs all pass.")
    pass_at_k: float | None = Field(description="Probability that at least one of k runs passes.")
    score: float | None = Field(description="Mean run score.")
    flaky: bool


class MetricStats(Record):
    """One named metric over a group's cases: per run the mean of the checks/rubrics naming it."""

    mean: float | None = Field(description="Mean over cases of each case's mean over completed runs.")
    ci: tuple[float, float] | None = Field(None, description="95% t interval over cases.")
    cases: int = 0
    runs: int = 0
    total: float = Field(0.0, description="Sum over completed runs: a count for pass/fail checks.")


class DerivedMetric(Record):
    """A `derived_metrics` formula applied to the group's metric totals and counts."""

    formula: str
    value: float | None = Field(description="None when undefined (division by zero, a missing metric).")
    note: str | None = Field(None, description="Why the value is None (e.g. division by zero, not a real number).")


class GroupStats(Record):
    """Statistics over the cases of a tag, or of the whole suite; the case is the unit."""

    cases: int
    runs: int
    errors: int
    error_rate: float
    pass_rate: float | None
    pass_hat_k: float | None
    pass_at_k: float | None
    score: float | None
    score_ci: tuple[float, float] | None = None
    flaky: int = 0
    critical_failed: int = 0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    cost_usd: float = 0.0
    mean_cost_usd: float | None = None
    cost_unknown_runs: int = Field(0, description="Completed runs whose cost is unknown (no usage or no price): "
                                   "`cost_usd` is a lower bound, or unknown when no run's cost is known.")
    tokens: int = 0
    refusal_rate: float | None = None
    output_chars_p50: float | None = None
    output_chars_p95: float | None = None
    cached_runs: int = 0
    metrics: dict[str, MetricStats] = Field({}, description="Named metrics (`metric:` on checks and rubrics).")
    derived: dict[str, DerivedMetric] = Field({}, description="The suite's `derived_metrics`.")


class Summary(GroupStats):
    """Overall statistics, plus the same per tag."""

    tags: dict[str, GroupStats] = {}
    judge_cost_usd: float = 0.0
    judge_disagreement: float | None = Field(
        None, description="Mean spread (std dev / scale) of rubric samples, when rubrics use `samples`.")


class SuiteInfo(Record):
    """Provenance of the suite a run used."""

    name: str
    path: str
    hash: str
    repeat: int


class ConfigInfo(Record):
    """Provenance of the candidate config: the execution context under test."""

    name: str
    version: str
    hash: str
    path: str
    provider: str
    model: str
    params: dict[str, Any] = {}
    system_prompt: str | None = None
    user_template: str = ""
    author: str | None = None
    rationale: str | None = None
    judge_model: str | None = None
    judge_prompt_hash: str | None = None
    opaque: bool = Field(False, description="An HTTP or command agent without `agent.version`: the hash does not "
                         "cover its behaviour.")
    sources: dict[str, str] = Field(default_factory=dict, description="Hash of each Python module the config names "
                                    "(\"pkg.module:function\" -> source hash), covered by `hash`.")


class CaseResult(Record):
    """One case with its runs and their reduction."""

    id: str
    tags: tuple[str, ...] = ()
    critical: bool = False
    definition_hash: str = Field(description="Hash of input, checks, rubrics and expected.")
    input: Any = None
    expected: str | None = None
    runs: tuple[RunRecord, ...]
    stats: CaseStats


class Results(Record):
    """The `results.json` file of one run of a suite."""

    schema_version: int = RESULTS_SCHEMA_VERSION
    tool_version: str
    suite: SuiteInfo
    config: ConfigInfo
    seed: int
    git_commit: str | None = None
    git_dirty: bool | None = None
    started_at: str
    finished_at: str
    complete: bool = Field(description="False when interrupted, stopped by a budget or sharded.")
    incomplete_reason: str | None = None
    ungated: tuple[str, ...] = Field((), description="Cases tagged needs-review with no checks or rubrics yet: "
                                     "listed, not run, never in the verdict.")
    reruns: int = Field(0, description="Runs re-run once at the end of the run after a provider, timeout or judge "
                        "error (each re-run's record says `rerun: true`); 0 with --no-rerun-errors.")
    shard: tuple[int, int] | None = None
    cases: tuple[CaseResult, ...]
    summary: Summary
