"""Helpers shared by the command modules: consoles and path checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console

from agent_eval.errors import UsageError
from agent_eval.flow._console import say

__all__ = ["consoles", "parse_shard", "print_json", "require_file", "say"]


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


def print_json(payload: Any) -> None:
    """A machine-readable answer on stdout (progress and tables went to stderr)."""
    print(json.dumps(payload, indent=2))


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
