"""Helpers for CI: the GitHub Action's gate and pull-request comment steps, and the pre-commit hook.

Each is a small command run with `python -m`:

    python -m agent_eval.ci.gate            the action's gate step (inputs from AGENT_EVAL_* variables)
    python -m agent_eval.ci.comment FILE    post or update the pull request's agent-eval comment
    python -m agent_eval.ci.precommit FILE...  run the suites that staged files belong to, on a fast subset
"""

from __future__ import annotations

__all__: list[str] = []
