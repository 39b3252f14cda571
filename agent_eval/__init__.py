"""agent-eval: a CI gate that tells whether a change to an LLM agent made it worse.

The public Python surface (everything else is internal and may change):

- `run(...)`: `agent-eval run` as one call; returns a `RunOutcome` (`exit_code`, `outcome`, per-suite
  `SuiteOutcome` with `results` and `verdict`), with `RunOptions` and `GateFlags` to tune it.
- The agent contract: `AgentInput`, `AgentResult`, `AgentContext`, `AgentToolCall`.
- What a check function receives: `CaseView`, `RunView`.
- Result types: `Results`, `RunRecord`, `Verdict`, `Outcome`.

Names are imported on first use: importing `agent_eval` loads no provider SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_eval._lazy import lazy_exports
from agent_eval._version import __version__

if TYPE_CHECKING:
    from agent_eval.baseline.options import GateFlags
    from agent_eval.baseline.verdict import Outcome, Verdict
    from agent_eval.checks.views import CaseView, RunView
    from agent_eval.flow.api import run
    from agent_eval.flow.outcome import RunOutcome, SuiteOutcome
    from agent_eval.records import Results, RunRecord
    from agent_eval.runner.session import RunOptions
    from agent_eval.targets.agent_io import AgentContext, AgentInput, AgentResult, AgentToolCall

_EXPORTS = {
    "run": "agent_eval.flow.api",
    **dict.fromkeys(["RunOutcome", "SuiteOutcome"], "agent_eval.flow.outcome"),
    "RunOptions": "agent_eval.runner.session",
    "GateFlags": "agent_eval.baseline.options",
    **dict.fromkeys(["Outcome", "Verdict"], "agent_eval.baseline.verdict"),
    **dict.fromkeys(["CaseView", "RunView"], "agent_eval.checks.views"),
    **dict.fromkeys(["Results", "RunRecord"], "agent_eval.records"),
    **dict.fromkeys(["AgentContext", "AgentInput", "AgentResult", "AgentToolCall"], "agent_eval.targets.agent_io"),
}
__all__ = [
    "AgentContext",
    "AgentInput",
    "AgentResult",
    "AgentToolCall",
    "CaseView",
    "GateFlags",
    "Outcome",
    "Results",
    "RunOptions",
    "RunOutcome",
    "RunRecord",
    "RunView",
    "SuiteOutcome",
    "Verdict",
    "__version__",
    "run",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)
