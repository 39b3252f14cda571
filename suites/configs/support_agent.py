"""The support agent as your own Python code: its own tool loop over `ctx.openai`.

Run it on the offline example:
    agent-eval run suites/support-agent.yaml --config suites/configs/support-agent-python.yaml

`ctx.openai` is the official async OpenAI client, routed through agent-eval's call layer to the config's
`model:` (here the offline mock, whose rules ask for tools), so every call is paced, cached, priced and traced.
The agent executes its tools itself and reports them in AgentResult.tool_calls.
"""

from __future__ import annotations

import json
from typing import Any

from agent_eval.targets import AgentContext, AgentInput, AgentResult, AgentToolCall

ORDERS = {
    "1234": {"order_id": "1234", "status": "shipped", "refund_status": "pending"},
    "5678": {"order_id": "5678", "status": "delivered_late", "refund_status": "processed"},
    "4321": {"order_id": "4321", "status": "delivered"},
}
TOOLS = [
    {"type": "function", "function": {"name": "lookup_order", "parameters": {
        "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}},
    {"type": "function", "function": {"name": "refund_order", "parameters": {
        "type": "object", "properties": {"order_id": {"type": "string"}, "reason": {"type": "string"}},
        "required": ["order_id", "reason"]}}},
    {"type": "function", "function": {"name": "get_policy", "parameters": {
        "type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"]}}},
]


def run_tool(name: str, args: dict[str, Any]) -> Any:
    """The agent's own tools; a KeyError becomes an error the model reads."""
    if name == "lookup_order":
        return ORDERS[args["order_id"]]
    if name == "refund_order":
        return {"refund_id": "R" + args["order_id"], "amount": 42.5}
    if name == "get_policy":
        return {"topic": args["topic"], "days": 30}
    raise KeyError(f"unknown tool {name}")


async def support_agent(inp: AgentInput, ctx: AgentContext) -> AgentResult:
    """Call the model, run the tools it asks for, feed the results back, up to five steps."""
    messages: list[dict[str, Any]] = list(inp.messages)
    calls: list[AgentToolCall] = []
    for _ in range(5):
        reply = await ctx.openai.chat.completions.create(model=ctx.model, messages=messages, tools=TOOLS)
        message = reply.choices[0].message
        if not message.tool_calls:
            messages.append({"role": "assistant", "content": message.content or ""})
            return AgentResult(output=message.content or "", messages=messages, tool_calls=calls)
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            args = json.loads(call.function.arguments)
            try:
                result, error = run_tool(call.function.name, args), None
            except KeyError as exc:
                result, error = None, f"not found: {exc}"
            calls.append(AgentToolCall(id=call.id, name=call.function.name, args=args, result=result, error=error))
            content = json.dumps(result) if error is None else f"error: {error}"
            messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
    return AgentResult(output="I could not finish.", messages=messages, tool_calls=calls)
