"""Errors the user can act on; each is shown as one short message by the CLI.

    AgentEvalError          base; exit code 2 unless stated
    ├── InputError          a file the user wrote is wrong (suite, config, baseline, results)
    ├── UsageError          flags or arguments do not fit together
    ├── ConfigError         the environment is wrong (missing API key, missing SDK)
    └── FatalProviderError  the provider refused the whole run (401/403/404)
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AgentEvalError",
    "ConfigError",
    "FatalProviderError",
    "InputError",
    "UsageError",
]


class AgentEvalError(Exception):
    """Base of every error agent-eval reports to the user."""

    exit_code = 2


class InputError(AgentEvalError):
    """A file is malformed; names the file, line and field and what was expected."""

    def __init__(
        self,
        path: Path | str | None,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class UsageError(AgentEvalError):
    """Command-line arguments that cannot be used together or are out of range."""


class ConfigError(AgentEvalError):
    """The environment cannot run the request (missing key, missing SDK)."""


class FatalProviderError(AgentEvalError):
    """The provider rejected credentials or the model; the whole run stops."""
