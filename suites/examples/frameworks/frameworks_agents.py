"""The same order-lookup agent written with three frameworks, unmodified except for where its model lives.

Each returns only its final text: agent-eval takes the tool calls from the gateway behind `ctx`, so the
suite's trajectory checks work as they do for the built-in loop. Install the frameworks with
`pip install 'agent-eval[frameworks]'`.
"""

from __future__ import annotations

import json
from typing import Any

INSTRUCTIONS = "You are a support agent. Look orders up with lookup_order before answering."
ORDERS = {"1234": {"status": "shipped"}, "5678": {"status": "delayed"}}


def lookup(order_id: str) -> dict[str, Any]:
    """Look an order up by its id."""
    return ORDERS.get(order_id, {"status": "unknown"})


async def agents_sdk(inp: Any, ctx: Any) -> str:
    """The OpenAI Agents SDK on the Responses API, with ctx.openai as its client."""
    from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled

    set_tracing_disabled(True)

    @function_tool
    def lookup_order(order_id: str) -> str:
        """Look an order up by its id."""
        return json.dumps(lookup(order_id))  # the SDK would send a dict as its Python repr

    agent = Agent(name="support", instructions=INSTRUCTIONS, tools=[lookup_order],
                  model=OpenAIResponsesModel(model=ctx.model, openai_client=ctx.openai))
    result = await Runner.run(agent, inp.input)
    return str(result.final_output)


def langgraph(inp: Any, ctx: Any) -> str:
    """A LangGraph ReAct agent on langchain-openai's ChatOpenAI, pointed at ctx.base_url."""
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from langgraph.prebuilt import create_react_agent

    @tool
    def lookup_order(order_id: str) -> dict[str, Any]:
        """Look an order up by its id."""
        return lookup(order_id)

    model = ChatOpenAI(model=ctx.model, base_url=ctx.base_url, api_key=ctx.api_key, max_retries=0)
    agent = create_react_agent(model, [lookup_order], prompt=INSTRUCTIONS)
    state = agent.invoke({"messages": [("user", inp.input)]})
    return str(state["messages"][-1].content)


async def pydantic_ai(inp: Any, ctx: Any) -> str:
    """A PydanticAI agent on chat completions, pointed at ctx.base_url."""
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel(ctx.model, provider=OpenAIProvider(base_url=ctx.base_url, api_key=ctx.api_key))
    agent = Agent(model, instructions=INSTRUCTIONS)

    @agent.tool_plain
    def lookup_order(order_id: str) -> dict[str, Any]:
        """Look an order up by its id."""
        return lookup(order_id)

    result = await agent.run(inp.input)
    return str(result.output)
