"""GitHub Actions plumbing: workflow commands (annotations), step outputs and the event payload."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TextIO

__all__ = ["annotate", "load_event", "set_outputs"]

Level = Literal["notice", "warning", "error"]


def _escape(text: str, *, prop: bool = False) -> str:
    """Escape a workflow-command value (https://github.com/actions/toolkit, `command.ts`)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def annotate(level: Level, message: str, *, title: str | None = None, stream: TextIO | None = None) -> None:
    """Print `::notice::`, `::warning::` or `::error::`; GitHub shows it on the run and the pull request."""
    props = f" title={_escape(title, prop=True)}" if title else ""
    print(f"::{level}{props}::{_escape(message)}", file=stream or sys.stdout, flush=True)


def set_outputs(values: Mapping[str, str], env: Mapping[str, str]) -> Path | None:
    """Append `name=value` lines to $GITHUB_OUTPUT when set (values are single lines); returns that file."""
    target = env.get("GITHUB_OUTPUT")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as fh:
        for name, value in values.items():
            fh.write(f"{name}={value.replace(chr(10), ' ')}\n")
    return path


def load_event(env: Mapping[str, str]) -> dict[str, Any]:
    """The webhook payload that triggered the workflow ($GITHUB_EVENT_PATH), or {} outside Actions."""
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}
