"""What the runner needs of a judge: grade one run's output against its case's rubrics, then close."""

from __future__ import annotations

from typing import Protocol

from agent_eval.records import Message, RubricResult
from agent_eval.suite.case import Case

__all__ = ["Judge"]


class Judge(Protocol):
    """Grades one run's output against its case's rubrics."""

    async def grade(
        self, case: Case, messages: tuple[Message, ...], output: str, index: int, *, context: tuple[str, ...] = (),
        transcript: tuple[Message, ...] = (),
    ) -> tuple[RubricResult, ...]: ...

    async def aclose(self) -> None:
        """Close the judge's connections."""
        ...
