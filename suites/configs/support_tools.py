"""Tool implementations for the support-agent example: `implementation: "support_tools:get_policy"`.

Imported by name from the config's folder; called as `fn(args, ctx)` (sync or async).
"""

from __future__ import annotations

from typing import Any

POLICIES = {
    "returns": {"topic": "returns", "days": 30, "text": "Items can be returned within 30 days of delivery."},
    "shipping": {"topic": "shipping", "days": 5, "text": "Orders ship within 5 business days."},
}


def get_policy(args: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """The policy on a topic; an unknown topic raises, which the model sees as a tool error."""
    return POLICIES[args["topic"]]
