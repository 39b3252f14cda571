"""Targets: what runs a case. The plain prompt call by default; with `agent:` in the config, the
built-in tool loop, a Python function, an HTTP service or a command. One module per kind.

Users write agents against `AgentInput`, `AgentResult` and `AgentContext`:
`from agent_eval.targets import AgentInput, AgentResult, AgentContext`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_eval.targets.agent_io import AgentContext, AgentInput, AgentResult, AgentToolCall
from agent_eval.targets.base import Target, TargetResult, TargetRun
from agent_eval.targets.calling import ModelCaller, RunMeter

if TYPE_CHECKING:
    from agent_eval.suite.loader import LoadedConfig

__all__ = [
    "AgentContext",
    "AgentInput",
    "AgentResult",
    "AgentToolCall",
    "ModelCaller",
    "RunMeter",
    "Target",
    "TargetResult",
    "TargetRun",
    "build_target",
    "check_target",
]


def build_target(config: LoadedConfig, caller: ModelCaller, *, concurrency: int = 8) -> Target:
    """The target the config names (imports and environment checked here, before any run)."""
    from agent_eval.errors import ConfigError, InputError

    try:
        return _build(config, caller, concurrency)
    except ConfigError as exc:  # an import or a missing variable: name the config file
        field = {"loop": "tools", "python": "agent.python", "http": "agent.http"}.get(
            config.spec.agent.kind if config.spec.agent else "", "agent")
        raise InputError(config.path, str(exc), field=field) from None


def check_target(config: LoadedConfig) -> list[str]:
    """For `validate`: import the agent and tool functions (InputError when one fails); warnings for
    environment variables that HTTP headers name but that are not set here."""
    import os

    from agent_eval.errors import ConfigError, InputError
    from agent_eval.targets.toolbox import import_ref

    spec = config.spec
    refs = [("agent.python", spec.agent.python)] if spec.agent is not None and spec.agent.python else []
    refs += [(f"tools[{i}].implementation", t["implementation"]) for i, t in enumerate(spec.tools)
             if isinstance(t.get("implementation"), str)]
    for field, ref in refs:
        try:
            import_ref(ref, config.path.parent)
        except ConfigError as exc:
            raise InputError(config.path, str(exc), field=field) from None
    if spec.agent is None or spec.agent.http is None:
        return []
    from agent_eval.targets.http_agent import env_names

    return [f"{config.path}: agent.http.headers name ${{{name}}}, which is not set here"
            for name in env_names(spec.agent.http) if name not in os.environ]


def _build(config: LoadedConfig, caller: ModelCaller, concurrency: int) -> Target:
    agent = config.spec.agent
    base_dir = config.path.parent
    if agent is None:
        from agent_eval.targets.prompt import PromptTarget

        return PromptTarget(caller)
    if agent.loop is not None:
        from agent_eval.targets.isolation import isolated
        from agent_eval.targets.loop import ToolLoopTarget
        from agent_eval.targets.toolbox import ToolBox

        toolbox = ToolBox(config.spec.tools, base_dir, workers=concurrency if isolated() else 0)
        return ToolLoopTarget(caller, toolbox, agent.loop.max_steps,
                              max_tokens=agent.max_tokens, max_cost_usd=agent.max_cost_usd)
    if agent.python is not None:
        import contextlib
        import sys

        from agent_eval.targets.describe import names_model
        from agent_eval.targets.isolation import isolated
        from agent_eval.targets.python_agent import PythonTarget
        from agent_eval.targets.toolbox import import_ref

        with contextlib.redirect_stdout(sys.stderr):  # what the module prints on import is not our output
            function = import_ref(agent.python, base_dir)
        return PythonTarget(caller, function, agent.python,
                            max_tokens=agent.max_tokens, max_cost_usd=agent.max_cost_usd, workers=concurrency,
                            base_dir=base_dir, timeout_s=agent.timeout_s, isolate=isolated(),
                            no_model=not names_model(config))
    if agent.http is not None:
        from agent_eval.targets.http_agent import HttpTarget

        return HttpTarget(agent.http)
    from agent_eval.targets.command import CommandTarget

    assert agent.command is not None  # AgentSpec allows exactly one kind
    return CommandTarget(agent.command, agent.timeout_s, base_dir)
