"""File formats a user writes: the suite (golden dataset) and the candidate config.

Both are validated with `extra="forbid"`, so a typo is an error with a location.
`agent-eval schema suite|config` prints the JSON Schema generated from these models.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from agent_eval.checks.registry import check_item_schema
from agent_eval.modelspec import ModelSpec, PriceSpec
from agent_eval.suite.agent_schema import AgentSpec, ToolCallSpec, ToolResultSpec, check_ref

__all__ = [
    "MAX_REPEAT",
    "SCHEMA_VERSION",
    "SUITE_NAME",
    "AgentSpec",
    "BudgetSpec",
    "CaseSpec",
    "CasesFromSpec",
    "ConfigFile",
    "CriticalSpec",
    "DatasetOptionsSpec",
    "DefaultsSpec",
    "EscalationSpec",
    "GateSpec",
    "JudgeSpec",
    "MessageSpec",
    "PromptSpec",
    "RecordedSpec",
    "ReportSpec",
    "RubricSpec",
    "SimulatedUserSpec",
    "StopSpec",
    "SuiteFile",
    "TagLimitSpec",
    "ToolCallSpec",
    "ToolResultSpec",
    "TurnSpec",
]

SCHEMA_VERSION = 1
MAX_REPEAT = 1000
# A suite name becomes a file and folder name (baselines, results): letters, digits, '.', '_', '-'
SUITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def _empty(value: Any) -> bool:
    """An empty list added after a format shipped: left out of dumps, so content hashes stay stable."""
    return not value


def _unset(value: Any) -> bool:
    """Fields added after a format shipped are left out of dumps while unset, so content hashes stay stable."""
    return value is None or value == {}


# A check item as written (compiled and validated by checks.compile_check); its schema lists the check names.
CheckItem = Annotated[dict[str, Any], WithJsonSchema(check_item_schema())]


def _off(value: Any) -> bool:
    """A flag added after the format shipped: left out of dumps while false (stable content hashes)."""
    return value is False


class Spec(BaseModel):
    """Base of every user-written model: immutable, unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptSpec(Spec):
    """The prompt templates (Jinja2, StrictUndefined), written here or read from a file beside the config."""

    system: str | None = None
    user: str = Field("{{ input }}", description="Rendered with `input` and the case's vars.")
    file: str | None = Field(
        None, exclude_if=_unset, description="A prompt file relative to the config (inside its folder): .txt, .md "
        "or .j2 is the user template; .yaml, .yml or .json is a chat template, a list of {role, content} messages "
        "rendered with `input` and the case's vars (the whole file may be a template: loops over vars). The config "
        "hash covers the file's contents.")

    @model_validator(mode="after")
    def _file_or_inline(self) -> PromptSpec:
        if self.file is not None:
            chat = self.file.lower().endswith((".yaml", ".yml", ".json"))
            clash = [k for k in (("system", "user") if chat else ("user",)) if k in self.model_fields_set]
            if clash:
                kind = "a chat template brings its own messages" if chat else "a text prompt file is the user template"
                raise ValueError(f"prompt.file and prompt.{clash[0]} together: {kind}; keep one")
        return self


class EscalationSpec(Spec):
    """How a run escalates to a human: a tool call, or a truthy value at a JSONPath of the target's raw result."""

    tool: str | None = Field(None, min_length=1, description="A tool call of this name escalates the run.")
    json_path: str | None = Field(
        None, min_length=1, description="A truthy value here escalates: in an HTTP agent's reply, a Python or "
        "command agent's AgentResult, or a model's answer when it is JSON.")

    @field_validator("json_path")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if value is not None:
            from agent_eval.jsonpath import InvalidJsonPath, parse

            try:
                parse(value)
            except InvalidJsonPath as exc:
                raise ValueError(f"invalid JSONPath {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_way(self) -> EscalationSpec:
        if (self.tool is None) == (self.json_path is None):
            raise ValueError("escalation needs exactly one of tool or json_path")
        return self
def _model_optional(schema: dict[str, Any]) -> None:
    """In the published schema `model` is optional: HTTP, command and Python agents need none."""
    schema["required"] = [name for name in schema.get("required", []) if name != "model"]


class ConfigFile(Spec):
    """The candidate config: the execution context under test, as one versioned unit."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_model_optional)

    schema_version: int = SCHEMA_VERSION
    name: str = Field(min_length=1)
    version: str = Field(description="Semantic version, e.g. 1.4.0.")
    description: str | None = None
    author: str | None = None
    rationale: str | None = None
    model: ModelSpec
    prompt: PromptSpec = PromptSpec(user="{{ input }}")
    tools: tuple[dict[str, Any], ...] = Field(
        (), description="Tool definitions offered to the model: {name, description, parameters, "
        'implementation: "pkg.module:function", kind: retrieval}.')
    agent: AgentSpec | None = Field(None, description="The target under test; default: the plain prompt call.")
    retrieval: dict[str, Any] = Field(default_factory=dict, description="Recorded and hashed.")
    escalation: EscalationSpec | None = Field(
        None, description="How a run hands off to a human: {tool: handoff_to_human} or {json_path: $.escalate}.")
    pricing: dict[str, PriceSpec] = Field(default_factory=dict, description="Per-model price overrides.")

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not _SEMVER.match(value):
            raise ValueError(f"expected a semantic version like 1.4.0, got {value!r}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _model_for_services(cls, data: Any) -> Any:
        """HTTP, command and Python agents may call their own models: `model:` may be left out for them (a
        Python agent without one has its ctx calls refused)."""
        if isinstance(data, dict) and "model" not in data and isinstance(data.get("agent"), dict):
            kind = next((k for k in ("http", "command", "python") if data["agent"].get(k) is not None), None)
            if kind is not None:
                return {**data, "model": {"provider": "mock", "name": f"{kind}-agent"}}
        return data

    @field_validator("tools")
    @classmethod
    def _implementations(cls, value: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
        for tool in value:
            ref = tool.get("implementation")
            if ref is not None:
                check_ref(ref if isinstance(ref, str) else repr(ref))
        return value


class JudgeSpec(ModelSpec):
    """The LLM judge: a pinned model, and optionally its own prompt template."""

    prompt: str | None = Field(None, description="Path to a Jinja2 judge template, relative to the suite.")
    ensemble: tuple[ModelSpec, ...] = Field(
        (), description="More judges grading every rubric alongside this one (written `judge: [A, B]`); the score "
        "is the mean over judges, and their spread is reported as judge disagreement.")


def _judge_list(value: Any) -> Any:
    """`judge: [A, B, ...]` is judge A with B... as its ensemble; the template (`prompt`) is A's."""
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError("an ensemble needs at least one judge")
        first, *rest = value
        return {**first, "ensemble": list(rest)} if rest and isinstance(first, dict) else first
    return value


Judge = Annotated[JudgeSpec | None, BeforeValidator(_judge_list, json_schema_input_type=JudgeSpec | list[JudgeSpec] | None)]


class RubricSpec(Spec):
    """A criterion graded by the LLM judge."""

    name: str = Field(min_length=1)
    criteria: str = Field("", description="What a good answer does; required unless `template` brings its own.")
    template: str | None = Field(
        None, description="A shipped judge template by name (faithfulness, context_relevance) or a path "
        "relative to the suite; default: the suite's judge prompt.")
    steps: tuple[str, ...] = ()
    scale: tuple[int, int] = (1, 5)
    threshold: float | None = Field(
        None, description="Pass when score >= threshold; default 75% of the way up the scale, rounded up (4 on 1-5).")
    weight: float = Field(1.0, ge=0, description="0: informational, affects neither score nor pass.")
    metric: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", exclude_if=_unset,
                               description="Named metric this rubric feeds.")
    use_expected: bool = False
    samples: int = Field(1, ge=1, le=20, description="Judge calls averaged (self-consistency).")
    judge: Judge = None
    head_to_head: bool = Field(
        False, exclude_if=_off, description="Judged against the baseline's output for the same case, in both "
        "orders (win, tie or loss), instead of on the scale; needs a baseline that kept its outputs.")

    @property
    def pass_threshold(self) -> float:
        """The threshold as given, or 75% of the way up the scale, rounded up to a whole score."""
        low, high = self.scale
        return self.threshold if self.threshold is not None else float(math.ceil(low + 0.75 * (high - low)))

    @model_validator(mode="after")
    def _scale_and_threshold(self) -> RubricSpec:
        if not self.criteria and not self.template:
            raise ValueError("a rubric needs `criteria` (or a `template` that brings its own)")
        low, high = self.scale
        if low >= high:
            raise ValueError(f"scale must be [min, max] with min < max, got {list(self.scale)}")
        if self.threshold is not None and not low <= self.threshold <= high:
            raise ValueError(f"threshold {self.threshold} is outside the scale {list(self.scale)}")
        return self


class MessageSpec(Spec):
    """One chat message of a conversation input."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | tuple[dict[str, Any], ...] = Field(
        "", description="Text, or a list of parts: {type: text, text}, {type: image, file: photo.png} (or pdf, audio; "
        "a file beside the suite), {type: image, url: https://...}, or OpenAI's image_url, file and input_audio parts.")
    tool_calls: tuple[ToolCallSpec, ...] = Field((), description="Tool calls of a scripted assistant message.")
    tool_call_id: str | None = Field(None, description="The call a `tool` message answers.")

    @model_validator(mode="after")
    def _tool_fields(self) -> MessageSpec:
        if self.tool_calls and self.role != "assistant":
            raise ValueError(f"only assistant messages carry tool_calls (this one is {self.role})")
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs tool_call_id: the id of the call it answers")
        return self


class CriticalSpec(Spec):
    """A critical case with a tolerated pass rate instead of zero tolerance."""

    min_pass_rate: float = Field(gt=0, le=1, description="Fail the gate when the case passes less often than this.")


class TurnSpec(Spec):
    """One user turn of a scripted conversation, with the checks and rubrics its reply must pass."""

    user: str = Field(min_length=1, description="What the user says (a template, like `input`).")
    checks: tuple[CheckItem, ...] = Field((), description="Checks on this turn's reply.")
    rubrics: tuple[RubricSpec, ...] = Field((), description="Rubrics on this turn's reply, the history as context.")


class StopSpec(Spec):
    """When a simulated conversation ends (besides max_turns)."""

    goal_reached: bool = Field(True, description="When the simulated user says its goal is reached.")
    phrases: tuple[str, ...] = Field(
        (), description="When the agent's reply contains one of these (any case): the agent ended it.")
    tools: tuple[str, ...] = Field((), description="When the agent calls one of these tools (e.g. handoff_to_human).")

    @field_validator("phrases")
    @classmethod
    def _not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # an empty phrase is in every reply: it would end every conversation after the first turn
        for i, phrase in enumerate(value):
            if not phrase.strip():
                raise ValueError(f"phrase {i + 1} is empty or whitespace; it would match every reply")
        return value


class TurnThresholdSpec(Spec):
    """How many replies must pass each turn check or rubric: a count or a share (exactly one)."""

    at_least: int | None = Field(None, ge=1, description="At least this many replies.")
    at_least_share: float | None = Field(None, gt=0, le=1, description="At least this share of the replies.")

    @model_validator(mode="after")
    def _one(self) -> TurnThresholdSpec:
        if (self.at_least is None) == (self.at_least_share is None):
            raise ValueError("give one of at_least (replies) or at_least_share (in (0, 1])")
        return self

    def needed(self, replies: int) -> int:
        """Replies that must pass out of `replies`."""
        if self.at_least is not None:
            return self.at_least
        return math.ceil((self.at_least_share or 1.0) * replies - 1e-9)


class SimulatedUserSpec(Spec):
    """A model playing the user: a persona with a goal and the facts it believes (possibly wrong)."""

    model: ModelSpec = Field(description="The simulator's model (any provider; its own limits and prices).")
    persona: str = Field("", description="Who the user is and how they talk.")
    goal: str = Field(min_length=1, description="What the user wants out of the conversation.")
    facts: tuple[str, ...] = Field((), description="What the user believes, true or not.")
    opening: str = Field(min_length=1, description="The first user message (a template, like `input`).")
    stop: StopSpec = StopSpec()
    max_turns: int = Field(6, ge=1, le=100, description="User turns at most; reaching it without the goal fails.")
    turn_checks: tuple[CheckItem, ...] = Field(
        (), exclude_if=_empty, description="Checks on every reply of the agent (each named \"turn N: ...\").")
    turn_rubrics: tuple[RubricSpec, ...] = Field(
        (), exclude_if=_empty, description="Rubrics graded on every reply of the agent, the history as context.")
    turn_threshold: TurnThresholdSpec | None = Field(
        None, exclude_if=_unset, description="Each turn check and rubric is one result that passes when this many "
        "replies pass it (DeepEval's turn share); unset: every reply must pass, one result per turn.")


_CASE_INPUTS = ("input", "conversation", "simulated_user")


class RecordedSpec(Spec):
    """An output (or a whole conversation) produced elsewhere, graded by the case's checks and rubrics with no
    target called: production logs, another tool's outputs."""

    output: str | None = Field(None, description="The answer to grade; the case's `input` (optional) is the question.")
    messages: tuple[MessageSpec, ...] | None = Field(
        None, min_length=1, description="A whole conversation: its last message is the assistant's answer to grade, "
        "the messages before it the history (the judge's question). The case has no `input` then.")
    tool_calls: tuple[ToolCallSpec, ...] = Field(
        (), description="Tool calls the recorded answer made (with the other recorded calls of `messages`).")

    @model_validator(mode="after")
    def _one_output(self) -> RecordedSpec:
        if (self.output is None) == (self.messages is None):
            raise ValueError("recorded needs exactly one of output or messages")
        if self.messages is not None and self.messages[-1].role != "assistant":
            raise ValueError(f"recorded messages end with the assistant's answer to grade; the last one is "
                             f"{self.messages[-1].role}")
        return self


class CaseSpec(Spec):
    """One golden case."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={
        "oneOf": [{"required": ["input"]}, {"required": ["conversation"]}, {"required": ["simulated_user"]},
                  {"required": ["recorded"], "not": {"required": ["input"]}}]})

    id: str = Field(min_length=1, description="Unique and stable: the join key with a baseline.")
    description: str | None = None
    tags: tuple[str, ...] = ()
    input: str | tuple[MessageSpec, ...] | None = Field(
        None, description="A string rendered into the user template, or chat messages sent as they are. "
        "Exactly one of input, conversation or simulated_user."
    )
    conversation: tuple[TurnSpec, ...] | None = Field(
        None, min_length=1, description="User turns the agent answers one by one, each with the history so far.")
    simulated_user: SimulatedUserSpec | None = Field(None, description="A model plays the user.")
    vars: dict[str, Any] = Field(default_factory=dict)
    expected: str | None = None
    critical: bool | CriticalSpec | None = Field(
        None, description="true, or {min_pass_rate: 0.8}; unset takes defaults.critical.")
    checks: tuple[CheckItem, ...] = ()
    rubrics: tuple[RubricSpec, ...] = ()
    judge: Judge = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    tool_results: dict[str, tuple[ToolResultSpec, ...]] = Field(
        default_factory=dict, description="Canned results per tool name, for the tool loop: the first whose "
        "`when` is a subset of the call's arguments.")
    recorded: RecordedSpec | None = Field(
        None, exclude_if=_unset, description="Grade this output ({output}) or conversation ({messages}) instead of "
        "calling the target; `input` is optional with an output and absent with messages.")

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="before")
    @classmethod
    def _one_input(cls, data: Any) -> Any:
        """`input` is required unless the case is a conversation; never two of them."""
        if not isinstance(data, dict):
            return data
        given = [key for key in _CASE_INPUTS if data.get(key) is not None]
        recorded = data.get("recorded")
        if recorded is not None:
            clash = [k for k in given if k != "input" or (isinstance(recorded, dict) and recorded.get("messages"))]
            if clash:
                raise ValueError(f"a recorded case has no {clash[0]}: recorded messages hold the whole conversation"
                                 if clash[0] == "input" else f"a recorded case has no {clash[0]}: nothing is called")
            return data
        if not given and set(data) <= set(cls.model_fields):  # (an unknown key is reported instead: a typo)
            raise ValidationError.from_exception_data(
                cls.__name__, [InitErrorDetails(type="missing", loc=("input",), input=data)])
        if len(given) > 1:
            raise ValueError(f"a case has one of input, conversation or simulated_user (found {', '.join(given)})")
        return data

    @property
    def is_conversation(self) -> bool:
        return self.conversation is not None or self.simulated_user is not None


class DefaultsSpec(Spec):
    """Merged into every case."""

    checks: tuple[CheckItem, ...] = ()
    rubrics: tuple[RubricSpec, ...] = ()
    tags: tuple[str, ...] = ()
    critical: bool | CriticalSpec = Field(False, description="Every case's `critical` unless it sets its own.")
    vars: dict[str, Any] = Field(
        default_factory=dict, exclude_if=_unset, description="Vars every case starts from; a case's own vars of "
        "the same name win.")


class TagLimitSpec(Spec):
    """One tag's limits: a drop against the baseline and absolute floors."""

    max_drop: float | None = Field(None, ge=0, description="Largest tolerated drop of the tag's score.")
    min_score: float | None = Field(None, ge=0, le=1, description="Floor of the tag's mean case score.")
    min_pass_rate: float | None = Field(None, ge=0, le=1, description="Floor of the tag's mean pass rate.")
    min_pass_hat_k: float | None = Field(None, ge=0, le=1, description="Floor of the tag's mean pass^k.")


class GateSpec(Spec):
    """The quality gate's limits for this suite."""

    max_drop: float | None = Field(None, ge=0, description="Largest tolerated relative drop (0.03 = 3%).")
    tags: dict[str, float | TagLimitSpec] = Field(
        default_factory=dict, description="Per-tag limits: a number is a max_drop, or {max_drop, min_score, ...}.")
    min_score: float | None = Field(None, ge=0, le=1, description="Floor of the mean case score (no baseline needed).")
    min_pass_rate: float | None = Field(None, ge=0, le=1, description="Floor of the mean pass rate.")
    min_pass_hat_k: float | None = Field(None, ge=0, le=1, description="Floor of the mean pass^k.")
    case_collapse: Literal["fail", "warn", "off"] = Field(
        "fail", description="A case that passed every baseline run and no candidate run (k >= 3 both sides).")
    require_baseline: bool = Field(False, description="No baseline found is an error (exit 2), not a PASS.")
    adaptive: bool = Field(False, exclude_if=_off, description="Sequential testing (`--adaptive`): start every "
                           "case at `adaptive_k_min` runs and add runs only until the verdict is decided.")
    adaptive_k_min: int | None = Field(None, ge=1, exclude_if=_unset,
                                       description="Runs per case at the first look of `adaptive` (default 2).")
    baseline_repeat: int | None = Field(
        None, ge=1, le=1000, description="Runs per case of --save-baseline; default twice the suite's repeat.")

    @field_validator("tags")
    @classmethod
    def _drops_not_negative(cls, value: dict[str, float | TagLimitSpec]) -> dict[str, float | TagLimitSpec]:
        for tag, limit in value.items():
            if isinstance(limit, float) and limit < 0:
                raise ValueError(f"tag '{tag}': a drop limit must be >= 0, got {limit}")
        return value


class BudgetSpec(Spec):
    """Spend ceilings for one run (candidate and judge)."""

    usd: float | None = Field(None, ge=0, description="0: nothing may be spent (only free calls run).")
    tokens: int | None = Field(None, ge=0)


class ReportSpec(Spec):
    """Report options."""

    redact: bool = False


class CasesFromSpec(Spec):
    """A cases file (or glob) with options for tables that have no `input` column."""

    path: str = Field(min_length=1, description="File or glob (data/*.csv), relative to the suite.")
    input_column: str | None = Field(None, description="Column sent as the input; default `input`, else the first.")
    fields: dict[Literal["id", "input", "expected", "metadata", "tags", "output"], str] = Field(
        default_factory=dict, exclude_if=_unset,
        description="Which key or column holds each case field, e.g. {input: question, expected: target, id: qid} "
        "(Inspect: {expected: target}); `output` is a recorded output, graded with no target called. With a "
        "mapping, a JSON or JSONL row's other keys that are not case fields become vars.")


class DatasetOptionsSpec(Spec):
    """What rows of `cases_from` files may do."""

    allow_files: bool = Field(
        False, description="Rows may name `file:` values in their vars (read inside the suite's folder); off, a "
        "dataset row never reads a file.")


class SuiteFile(Spec):
    """A suite: the golden dataset for one agent."""

    schema_version: int = SCHEMA_VERSION
    suite: str = Field(min_length=1, description="Name; baselines are stored under it. Letters, digits, '.', "
                       "'_' and '-' (it becomes a file name).")
    description: str | None = None
    config: str | None = Field(None, description="Default candidate config, relative to this file.")
    repeat: int = Field(1, ge=1, le=MAX_REPEAT, description="k: runs per case.")
    templated_inputs: Literal["auto"] | bool = Field(
        "auto", description="Render case inputs as Jinja2: auto (only a case with non-empty `vars`), true, false.")
    defaults: DefaultsSpec = DefaultsSpec()
    cases_from: str | CasesFromSpec | tuple[str | CasesFromSpec, ...] | None = Field(
        None, description="JSONL (case rows or OpenAI `messages`), JSON arrays, CSV, Parquet or YAML files of cases; "
        "globs allowed.")
    cases: tuple[CaseSpec, ...] = ()
    judge: Judge = None
    gate: GateSpec = GateSpec()
    budget: BudgetSpec = BudgetSpec()
    report: ReportSpec = ReportSpec()
    requires: tuple[str, ...] = Field(
        (), description="Python packages the suite's agents need (import names, e.g. [langgraph]): a suite found in "
        "a folder is skipped with a note when one is missing; named on its own, it is an error.")

    @field_validator("requires")
    @classmethod
    def _import_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not all(part.isidentifier() for part in v.split("."))]
        if bad:
            raise ValueError(f"expected importable module names, got {', '.join(map(repr, bad))}")
        return value

    @field_validator("templated_inputs", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> Any:
        if value == "auto" or isinstance(value, bool) or value in ("true", "false"):
            return value
        raise ValueError(f"expected auto, true or false, got {value!r}")

    @field_validator("suite")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not SUITE_NAME.match(value):
            raise ValueError(f"suite name {value!r} must be a plain name (letters, digits, '.', '_', '-'; "
                             "starting with a letter or digit, at most 100 characters): it becomes a file name")
        return value
    check_timeout_s: float = Field(
        10.0, gt=0, le=3600,
        description="Time limit of one check (python: checks, user regexes); past it the check fails. "
                    "A check's own `timeout_s` overrides it.")
    derived_metrics: dict[str, str] = Field(
        default_factory=dict, exclude_if=_unset,
        description="name -> formula over named metrics (sums over runs), runs and cases; e.g. tp / (tp + fp).")
    dataset: DatasetOptionsSpec | None = Field(None, exclude_if=_unset, description="Options of `cases_from` rows.")
    vars_transform: str | None = Field(
        None, exclude_if=_unset, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description='A Python function ("module:function", beside the suite) called with each case\'s vars (and '
        "its id when it takes two arguments) at load; it returns the vars the case uses. Named here only, never "
        "in a data file; its source is in the suite hash.")
    similarity_model: ModelSpec | None = Field(
        None, exclude_if=_unset, description="Embeddings endpoint for `similar` checks; default: the candidate's endpoint.")
    moderation_model: ModelSpec | None = Field(
        None, exclude_if=_unset, description="Moderation endpoint for `moderation` checks; default: the candidate's endpoint.")
