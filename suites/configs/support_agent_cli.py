"""The support agent as a command: AgentInput JSON on stdin, AgentResult JSON on stdout.

A stand-in for a CLI agent in any language (no model: fixed rules over a small order table).
Run it on the offline example:
    agent-eval run suites/support-agent.yaml --config suites/configs/support-agent-command.yaml
Formats: `agent-eval schema agent-input` and `agent-eval schema agent-result`.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

ORDERS = {
    "1234": {"order_id": "1234", "status": "shipped", "refund_status": "pending"},
    "5678": {"order_id": "5678", "status": "delivered_late", "refund_status": "processed"},
    "4321": {"order_id": "4321", "status": "delivered"},
}


def answer(text: str) -> dict[str, Any]:
    """An AgentResult: the output and the tool calls made on the way, with their results."""
    calls: list[dict[str, Any]] = []
    if order := re.search(r"refund for order (\d+)", text):
        found = ORDERS.get(order[1])
        calls.append({"name": "lookup_order", "args": {"order_id": order[1]}, "result": found,
                      "error": None if found else f"order {order[1]} not found"})
        if found is None:
            return {"output": "I couldn't find that order.", "tool_calls": calls}
        return {"output": f"The refund for order {order[1]} is {found['refund_status']}.", "tool_calls": calls}
    if order := re.search(r"[Cc]ancel order (\d+)", text):
        calls.append({"name": "lookup_order", "args": {"order_id": order[1]}, "result": ORDERS[order[1]]})
        refund = {"refund_id": "R" + order[1], "amount": 42.5}
        calls.append({"name": "refund_order", "args": {"order_id": order[1], "reason": "customer request"},
                      "result": refund})
        return {"output": f"Done: refund {refund['refund_id']} was issued.", "tool_calls": calls}
    if "return an item" in text:
        calls.append({"name": "get_policy", "args": {"topic": "returns"}, "result": {"days": 30}})
        return {"output": "You can return items within 30 days of delivery.", "tool_calls": calls}
    return {"output": "Hello! How can I help with your order today?"}


if __name__ == "__main__":
    agent_input = json.load(sys.stdin)
    print(json.dumps(answer(agent_input["input"])))
