"""The rules between two versions of one config (`agent-eval validate --against REF`).

- Published versions are immutable: the same version with a different behaviour hash is an error.
- A model or provider change, a `response_format` change, a tool removed or a tool's schema changed: major.
- A tool added: at least minor. Any other behaviour change (prompt text, parameters, retrieval, code): patch.
- A version never goes down, and a change names its author and rationale.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from agent_eval.versioning.semver import BUMP_ORDER, bump

__all__ = ["ConfigVersion", "Finding", "authorship", "compare_versions", "required_changes"]


@dataclass(frozen=True, slots=True)
class ConfigVersion:
    """One side of the comparison: the parsed config (defaults filled), its behaviour view and hash."""

    raw: dict[str, Any]
    view: dict[str, Any]
    hash: str
    sources: dict[str, str]


@dataclass(frozen=True, slots=True)
class Finding:
    """One violation (`error`) or note (`warning`), explained in a sentence."""

    level: str  # "error" | "warning"
    rule: str  # short name: immutable, bump, downgrade, author, rationale
    message: str


def _get(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)  # type: ignore[assignment]
    return data


def _tools(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Tools by name; a tool is `{type: function, function: {...}}` or `{name, description, parameters}`."""
    out: dict[str, dict[str, Any]] = {}
    for i, tool in enumerate(view.get("tools") or ()):
        if not isinstance(tool, dict):
            continue
        function = tool.get("function")
        inner: dict[str, Any] = function if isinstance(function, dict) else tool
        out[str(inner.get("name") or f"#{i}")] = {**tool, **inner}
    return out


_SCHEMA_KEYS = ("parameters", "input_schema", "output_schema", "strict")


def _tool_changes(old: dict[str, Any], new: dict[str, Any]) -> Iterator[tuple[str, str]]:
    a, b = _tools(old), _tools(new)
    for name in sorted(set(a) - set(b)):
        yield "major", f"tool '{name}' was removed"
    for name in sorted(set(b) - set(a)):
        yield "minor", f"tool '{name}' was added"
    for name in sorted(set(a) & set(b)):
        if any(a[name].get(k) != b[name].get(k) for k in _SCHEMA_KEYS):
            yield "major", f"tool '{name}' changed its schema"
        elif a[name] != b[name]:
            yield "patch", f"tool '{name}' changed its description or implementation"


def required_changes(old: ConfigVersion, new: ConfigVersion) -> list[tuple[str, str]]:
    """(least bump needed, what changed) for every behaviour difference between two versions."""
    out: list[tuple[str, str]] = []
    for field in ("provider", "name"):
        was, now = _get(old.view, "model", field), _get(new.view, "model", field)
        if was != now:
            out.append(("major", f"model {field} changed ({was} -> {now})"))
    for path in (("response_format",), ("model", "params", "response_format")):
        if _get(old.view, *path) != _get(new.view, *path):
            out.append(("major", f"{'.'.join(path)} changed"))
    out += list(_tool_changes(old.view, new.view))
    for field in ("system", "user"):
        if _get(old.view, "prompt", field) != _get(new.view, "prompt", field):
            out.append(("patch", f"prompt.{field} changed"))
    seen = {"model", "prompt", "tools", "response_format"}
    for key in sorted((set(old.view) | set(new.view)) - seen):
        if old.view.get(key) != new.view.get(key):
            out.append(("patch", f"{key} changed"))
    rest_old = {k: v for k, v in (old.view.get("model") or {}).items() if k not in ("provider", "name", "params")}
    rest_new = {k: v for k, v in (new.view.get("model") or {}).items() if k not in ("provider", "name", "params")}
    params_old = {k: v for k, v in (_get(old.view, "model", "params") or {}).items() if k != "response_format"}
    params_new = {k: v for k, v in (_get(new.view, "model", "params") or {}).items() if k != "response_format"}
    if params_old != params_new:
        out.append(("patch", "model.params changed"))
    if rest_old != rest_new:
        out.append(("patch", "model settings changed (endpoint or mock rules)"))
    for ref in sorted(set(old.sources) | set(new.sources)):
        if old.sources.get(ref) != new.sources.get(ref):
            out.append(("patch", f"the source of {ref} changed"))
    if not out and old.hash != new.hash:
        out.append(("patch", "the behaviour hash changed"))
    return out


def compare_versions(old: ConfigVersion, new: ConfigVersion) -> list[Finding]:
    """Every rule broken by going from `old` to `new`; empty when the change is well versioned."""
    was, now = str(old.raw.get("version")), str(new.raw.get("version"))
    changes = required_changes(old, new)
    findings: list[Finding] = []
    step = bump(was, now)
    if step == "downgrade":
        findings.append(Finding("error", "downgrade", f"version went down ({was} -> {now})"))
    if changes and step == "none":
        what = "; ".join(text for _, text in changes)
        findings.append(Finding("error", "immutable", f"version {now} is published and immutable, but its behaviour "
                                f"changed ({what}; hash {old.hash} -> {new.hash}); bump the version"))
    elif changes and step not in (None, "downgrade"):
        need = max((level for level, _ in changes), key=BUMP_ORDER.index)
        if BUMP_ORDER.index(step) < BUMP_ORDER.index(need):
            why = "; ".join(text for level, text in changes if level == need)
            findings.append(Finding("error", "bump", f"{why}: that needs a {need} version bump, but {was} -> {now} "
                                    f"is a {step} bump"))
    if changes or step not in ("none", None):
        findings += authorship(old, new)
    return findings


def authorship(old: ConfigVersion | None, new: ConfigVersion) -> list[Finding]:
    """A change names its author and why; a rationale copied from the previous version is a warning."""
    out = []
    for field in ("author", "rationale"):
        if not str(new.raw.get(field) or "").strip():
            out.append(Finding("error", field, f"a change needs `{field}:` (who made it and why)"))
    rationale = str(new.raw.get("rationale") or "").strip()
    if old is not None and rationale and rationale == str(old.raw.get("rationale") or "").strip():
        out.append(Finding("warning", "rationale", "`rationale:` is the same as the previous version's; "
                           "say why this change was made"))
    return out
