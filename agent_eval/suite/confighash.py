"""The behaviour hash of a config: what changes behaviour, and nothing that does not.

Covered: prompt text, model, provider, endpoint and parameters, tools and their schemas, `response_format`,
retrieval settings, agent settings, and the source of every Python module a "pkg.module:function"
reference in the config names (Python agents, tool implementations, python checks). Not covered: name,
version, author, rationale, description, pricing, limits, timeouts and which variable holds the key
(comments and key order never reach the parsed data). HTTP and command agents are `opaque`: their
behaviour lives outside the config unless `agent.version` pins it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BehaviourHash",
    "behaviour_hash",
    "behaviour_view",
    "find_references",
    "module_file",
    "with_defaults",
]

# Top-level keys that describe the config rather than what it does.
_LABEL_KEYS = frozenset({"schema_version", "name", "version", "author", "rationale", "description", "pricing"})
# Keys of `model:` (and of agent blocks) that change pacing or credentials, not outputs.
_PACING_KEYS = frozenset({"limits", "timeout_s", "api_key_env"})
_REF = re.compile(r"^(?P<module>[A-Za-z_][\w.]*?|[\w./-]+\.py):(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")
# Keys whose value is always meant as a Python reference: unresolved ones are reported.
_REF_KEYS = frozenset({"python", "implementation", "function", "callable", "handler"})

SourceReader = Callable[[Path], "str | None"]


@dataclass(frozen=True, slots=True)
class BehaviourHash:
    """A config's behaviour hash, the module sources it covers and whether its agent is opaque."""

    hash: str
    sources: dict[str, str]  # "pkg.mod:fn" -> hash of the module's source file
    opaque: bool
    warnings: tuple[str, ...]


def behaviour_view(raw: dict[str, Any]) -> dict[str, Any]:
    """The part of a parsed config that changes behaviour (labels, pricing and pacing dropped)."""
    view = {k: v for k, v in raw.items() if k not in _LABEL_KEYS}
    for key in ("model", "agent"):
        block = view.get(key)
        if isinstance(block, dict):
            view[key] = {k: v for k, v in block.items() if k not in _PACING_KEYS}
    return view


def with_defaults(raw: Any) -> dict[str, Any]:
    """The parsed config with schema defaults filled in (so spelling out a default keeps the hash).

    Keys the schema does not know yet (another version's fields) are kept as written; a config that does
    not validate is used as written.
    """
    from pydantic import ValidationError

    from agent_eval.suite.loader import stable_dump
    from agent_eval.suite.schema import ConfigFile

    if not isinstance(raw, dict):
        return {}
    known = {k: v for k, v in raw.items() if k in ConfigFile.model_fields}
    try:
        full = stable_dump(ConfigFile.model_validate(known).model_dump(mode="json"))
    except ValidationError:
        return dict(raw)
    return {**{k: v for k, v in raw.items() if k not in ConfigFile.model_fields}, **full}


def find_references(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Every (key, "pkg.module:function") string in the config, depth first."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from find_references(v, str(k))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from find_references(item, key)
    elif isinstance(value, str) and _REF.match(value.strip()):
        yield key, value.strip()


def module_file(reference: str, roots: list[Path]) -> Path | None:
    """The source file a reference names, found without importing anything."""
    match = _REF.match(reference)
    if match is None:
        return None
    module = match["module"]
    if module.endswith(".py"):
        candidates = [Path(module)]
    else:
        parts = module.split(".")
        candidates = [Path(*parts).with_suffix(".py"), Path(*parts) / "__init__.py"]
    for root in roots:
        for candidate in candidates:
            path = candidate if candidate.is_absolute() else root / candidate
            if path.is_file():
                return path
    return None


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _default_reader(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def behaviour_hash(raw: dict[str, Any], base_dir: Path, *, roots: list[Path] | None = None,
                   read: SourceReader = _default_reader) -> BehaviourHash:
    """Hash the behaviour view and the source of each referenced module (read through `read`)."""
    import sys

    search = roots if roots is not None else [base_dir, Path.cwd(), *(Path(p) for p in sys.path if p)]
    view = behaviour_view(raw)
    sources: dict[str, str] = {}
    warnings: list[str] = []
    for key, reference in find_references(view):
        path = module_file(reference, search)
        text = read(path) if path is not None else None
        if text is not None:
            sources[reference] = hashlib.sha256(text.encode()).hexdigest()[:16]
        elif key in _REF_KEYS:
            warnings.append(f"'{reference}' ({key}): module source not found, so the hash covers only its name")
    opaque, note = _opacity(raw)
    if note:
        warnings.append(note)
    return BehaviourHash(hash=_digest({"config": view, "sources": sources}), sources=sources, opaque=opaque,
                         warnings=tuple(warnings))


def _opacity(raw: dict[str, Any]) -> tuple[bool, str | None]:
    agent = raw.get("agent")
    if not isinstance(agent, dict):
        return False, None
    kind = next((k for k in ("http", "command") if agent.get(k) is not None), None)
    if kind is None and agent.get("type") in ("http", "command"):
        kind = str(agent["type"])
    if kind is None:
        return False, None
    if agent.get("version"):
        return False, None
    return True, (f"the {kind} agent is opaque: its behaviour is not covered by the config hash; "
                  "set `agent.version` to the deployed version")
