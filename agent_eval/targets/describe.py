"""`run --dry-run` for agents: what each target would receive, without calling or starting anything."""

from __future__ import annotations

from agent_eval.suite.loader import LoadedConfig
from agent_eval.targets.base import TargetRun

__all__ = ["describe_run", "names_model", "target_label"]

_SHOWN = 300


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def names_model(config: LoadedConfig) -> bool:
    """False when `model:` was left out (a custom agent's config got the `mock/<kind>-agent` stand-in)."""
    model, agent = config.spec.model, config.spec.agent
    return not (agent is not None and model.provider == "mock" and model.name == f"{agent.kind}-agent"
                and model.mock is None)


def target_label(config: LoadedConfig) -> str:
    """E.g. `openai/gpt-4o-mini-2024-07-18`, `loop agent on mock/m` or `http agent` (it calls its own models)."""
    spec = config.spec
    label = f"{spec.model.provider}/{spec.model.name}"
    if spec.agent is None:
        return label
    on = spec.agent.kind == "loop" or (spec.agent.kind == "python" and names_model(config))
    return f"{spec.agent.kind} agent" + (f" on {label}" if on else "")


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
        goes = f"ctx calls go to {model}" if names_model(config) else "no model: ctx calls are refused"
        return f"python {agent.python} ({goes}): {payload}"
    return f"command {' '.join(agent.command or ())} stdin: {payload}"
