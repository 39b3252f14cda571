"""`run --dry-run` for agents: what each target would receive, without calling or starting anything."""

from __future__ import annotations

from agent_eval.suite.loader import LoadedConfig
from agent_eval.targets.base import TargetRun

__all__ = ["describe_run", "target_label"]

_SHOWN = 300


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def target_label(config: LoadedConfig) -> str:
    """E.g. `openai/gpt-4o-mini-2024-07-18`, `loop agent on mock/m` or `http agent` (it calls its own models)."""
    spec = config.spec
    label = f"{spec.model.provider}/{spec.model.name}"
    if spec.agent is None:
        return label
    return f"{spec.agent.kind} agent" + (f" on {label}" if spec.agent.kind in ("loop", "python") else "")


def describe_run(config: LoadedConfig, run: TargetRun) -> str:
    """One line: the target kind and the payload it would get for this case."""
    from agent_eval.targets.agent_io import agent_input
    from agent_eval.tooldefs import tool_parts

    spec = config.spec
    agent = spec.agent
    model = f"{spec.model.provider}/{spec.model.name}"
    if agent is None:
        return f"prompt call to {model}: {len(run.messages)} messages"
    if agent.loop is not None:
        tools = ", ".join(tool_parts(t)[0] for t in spec.tools) or "no tools"
        canned = ", ".join(run.case.tool_results) or "none"
        return (f"tool loop on {model}: {len(run.messages)} messages, tools {tools} (canned: {canned}), "
                f"at most {agent.loop.max_steps} steps")
    if agent.http is not None:
        from agent_eval.targets.http_agent import http_request

        url, headers, body = http_request(agent.http, run, secrets=False)
        return f"{agent.http.method} {url} headers {sorted(headers)}: {_cut(body.decode())}"
    payload = _cut(agent_input(run).model_dump_json())
    if agent.python is not None:
        return f"python {agent.python} (ctx calls go to {model}): {payload}"
    return f"command {' '.join(agent.command or ())} stdin: {payload}"
