"""One-line messages on a console: `level: message`, printed as is."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from agent_eval._plain import plain

__all__ = ["quiet_console", "say"]


def say(console: Console, level: str, message: str) -> None:
    """`level: message`, the level coloured; the message is printed as is (no markup, no wrapping, no
    control characters)."""
    style = {"error": "red", "warning": "yellow"}.get(level, "bold")
    console.print(Text.assemble((f"{level}: ", style), plain(message)))


def quiet_console() -> Console:
    """A console that prints nothing: the library's default."""
    return Console(quiet=True, markup=False, highlight=False)
