"""The version of agent-eval (the `agent-eval-gate` distribution); pyproject.toml reads it from here."""

__version__ = "0.1.0"
