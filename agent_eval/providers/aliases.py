"""Is a model id an alias the provider can move under us, or a pinned snapshot?

Rules, first match wins:
1. The mock provider is never unpinned.
2. A `-latest` or `:latest` suffix is unpinned.
3. A content digest (`@sha256:...`) is pinned.
4. A date is pinned: `YYYY-MM-DD` or `YYYYMMDD` (`gpt-4o-2024-11-20`, `claude-sonnet-4-5-20250929`).
5. A version snapshot is pinned: OpenAI's `-MMDD` (`gpt-4-0613`, `gpt-3.5-turbo-0125-...`)
   or a three-digit revision at the end (`-001`).
6. A local model with an explicit tag (`llama3:8b`, `qwen2.5:7b-instruct-q4_K_M`) is pinned:
   the tag names the build you pulled, and local weights change only when you pull again.
   A bare local name (`llama3`) means `:latest` and is unpinned.
7. Anything else is an alias (`gpt-4o`, `claude-3-5-sonnet`, `o3-mini`): unpinned.
"""

from __future__ import annotations

import re

__all__ = ["is_unpinned"]

_DATE = re.compile(r"(?<!\d)(?:\d{4}-\d{2}-\d{2}|20\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(?!\d)")
_SNAPSHOT = re.compile(r"-(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?=$|-)|-\d{3}$")
_LOCAL_TAG = re.compile(r"^[^:/\s]+(?:/[^:\s]+)*:[A-Za-z0-9][\w.\-]*$")


def is_unpinned(provider: str, name: str) -> bool:
    """True when `name` is an alias whose behaviour may change without notice."""
    if provider == "mock":
        return False
    model = name.strip()
    if model.endswith(("-latest", ":latest")):
        return True
    if "@sha256:" in model or _DATE.search(model) or _SNAPSHOT.search(model):
        return False
    return not _LOCAL_TAG.match(model)
