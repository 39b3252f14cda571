"""Conversations: scripted user turns or a simulated user, each turn answered by the target with the history."""

from agent_eval.conversation.driver import Conversations, Played, TurnPlayed
from agent_eval.conversation.simulator import GOAL_MARKER, SimulatorPool, simulator_prompt

__all__ = ["GOAL_MARKER", "Conversations", "Played", "SimulatorPool", "TurnPlayed", "simulator_prompt"]
