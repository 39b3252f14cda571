"""Loaded, validated cases: what the runner consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent_eval.records import ContentPart, Message, ToolCall
from agent_eval.suite.schema import JudgeSpec, RubricSpec, SimulatedUserSpec, ToolResultSpec

if TYPE_CHECKING:
    from agent_eval.checks.base import Check

__all__ = ["Case", "Recorded", "Turn"]


@dataclass(frozen=True, slots=True)
class Recorded:
    """An answer produced elsewhere, graded as the run's output: no target is called."""

    output: str
    messages: tuple[Message, ...] = ()  # the history the answer follows (a recorded conversation's earlier turns)
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class Turn:
    """One scripted user turn with its checks compiled."""

    user: str  # a template with the case's vars, like `input`
    checks: tuple[Check, ...] = ()
    rubrics: tuple[RubricSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class Case:
    """One golden case with its checks compiled and its definition hashed."""

    id: str
    input: str | tuple[Message, ...]
    tags: tuple[str, ...] = ()
    vars: dict[str, Any] = field(default_factory=dict)
    expected: str | None = None
    critical: bool = False
    critical_min_pass_rate: float | None = None  # `critical: {min_pass_rate: ...}`: tolerated pass rate
    checks: tuple[Check, ...] = ()
    rubrics: tuple[RubricSpec, ...] = ()
    judge: JudgeSpec | None = None
    definition_hash: str = ""
    source: str = ""  # "file:line", for messages
    templated: bool = True  # the case's text is a Jinja2 template (the suite's `templated_inputs`)
    tool_results: dict[str, tuple[ToolResultSpec, ...]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    conversation: tuple[Turn, ...] | None = None  # scripted user turns; `input` holds the first
    simulated_user: SimulatedUserSpec | None = None  # a model plays the user; `input` holds the opening
    every_turn: Turn | None = None  # a simulated user's `turn_checks` and `turn_rubrics`, on each reply
    recorded: Recorded | None = None  # graded as it is; the target is not called
    attachments: tuple[ContentPart, ...] = ()  # images, PDFs or audio its `file:` vars name: sent with the user turn

    @property
    def is_conversation(self) -> bool:
        return self.conversation is not None or self.simulated_user is not None

    @property
    def all_rubrics(self) -> tuple[RubricSpec, ...]:
        """The case's rubrics and its turns' (for judge provenance and credential checks)."""
        return self.rubrics + tuple(r for turn in self.graded_turns for r in turn.rubrics)

    @property
    def graded_turns(self) -> tuple[Turn, ...]:
        """The scripted turns, and what a simulated user's every turn is graded by."""
        return (*(self.conversation or ()), *((self.every_turn,) if self.every_turn is not None else ()))

    @property
    def first_tag(self) -> str | None:
        return self.tags[0] if self.tags else None
