"""Helpers shared by the command modules: consoles and path checks."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from agent_eval.errors import UsageError

__all__ = ["consoles", "parse_shard", "require_file", "say"]


def consoles(json_output: bool) -> tuple[Console, Console]:
    """(out, err): tables go to stdout, or to stderr when stdout carries JSON; progress always to stderr."""
    err = _console(stderr=True)
    out = err if json_output else _console(stderr=False)
    return out, err


def _console(*, stderr: bool) -> Console:
    """A console; logs and pipes get 160 columns so the tables stay readable in CI."""
    # soft_wrap: an error or warning line (with its file:line) is never cut; tables still fit the width.
    # markup=False: a name such as "[/]" in a suite, config or model is printed as it is, never parsed.
    console = Console(stderr=stderr, highlight=False, soft_wrap=True, markup=False)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, soft_wrap=True, markup=False, width=160)
    return console


def say(console: Console, level: str, message: str) -> None:
    """`level: message`, the level coloured; the message is printed as is (no markup, no wrapping, no
    control characters)."""
    from rich.text import Text

    from agent_eval._plain import plain

    style = {"error": "red", "warning": "yellow"}.get(level, "bold")
    console.print(Text.assemble((f"{level}: ", style), plain(message)))


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """`i/n` (1-based) as a tuple."""
    if text is None:
        return None
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard expects i/n such as 2/4, got {text!r}") from None
    if not 1 <= i <= n:
        raise UsageError(f"--shard {text}: i must be between 1 and n")
    return i, n


def require_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise UsageError(f"{what} {path} does not exist")
    return path
