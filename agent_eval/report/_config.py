"""What changed in the execution context between the baseline and the candidate."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from agent_eval.baseline.verdict import Verdict
from agent_eval.records import ConfigInfo

from ._diff import LineDiff, line_diff
from ._format import DASH
from ._sides import Side

__all__ = ["ConfigDiff", "FieldChange", "config_diff", "version_bump"]

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One setting on both sides."""

    name: str
    baseline: str
    candidate: str


@dataclass(frozen=True, slots=True)
class ConfigDiff:
    """The config diff section; `baseline_known` is False when the baseline stored no config."""

    has_baseline: bool
    baseline_known: bool
    bump: str | None
    changes: tuple[FieldChange, ...]
    system_prompt: tuple[LineDiff, ...]
    user_template: tuple[LineDiff, ...]
    candidate: ConfigInfo | None
    notes: tuple[str, ...]

    @property
    def unchanged(self) -> bool:
        return self.has_baseline and not (self.changes or self.system_prompt or self.user_template)


def version_bump(old: str | None, new: str | None) -> str | None:
    """'major', 'minor', 'patch', 'same', 'downgrade' or None when either is not a semantic version."""
    ma, mb = _SEMVER.match(old or ""), _SEMVER.match(new or "")
    if not ma or not mb:
        return None
    a = tuple(int(x) for x in ma.groups())
    b = tuple(int(x) for x in mb.groups())
    if a == b:
        return "same"
    if b < a:
        return "downgrade"
    return "major" if b[0] != a[0] else "minor" if b[1] != a[1] else "patch"


def _text(value: Any) -> str:
    if value is None:
        return DASH
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _param_changes(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    out = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key) or (key in old) != (key in new):
            a = _text(old[key]) if key in old else "(unset)"
            b = _text(new[key]) if key in new else "(unset)"
            out.append(FieldChange(f"params.{key}", a, b))
    return out


def _field_changes(base: Side, cand: Side) -> list[FieldChange]:
    bp, cp = base.provenance, cand.provenance
    pairs = [
        ("config", bp.config_name, cp.config_name),
        ("version", bp.config_version, cp.config_version),
        ("provider", bp.provider, cp.provider),
        ("model", bp.model, cp.model),
        ("judge model", bp.judge_model, cp.judge_model),
        ("judge prompt hash", bp.judge_prompt_hash, cp.judge_prompt_hash),
    ]
    out = [FieldChange(n, _text(a), _text(b)) for n, a, b in pairs if a != b and a is not None]
    if base.config is not None and cand.config is not None:
        out += _param_changes(dict(base.config.params), dict(cand.config.params))
        if base.config.author != cand.config.author:
            out.append(FieldChange("author", _text(base.config.author), _text(cand.config.author)))
    return out


def _notes(bump: str | None, changes: list[FieldChange], verdict: Verdict) -> list[str]:
    notes = []
    significant = verdict.p_value is not None and verdict.p_value < verdict.alpha
    if bump == "patch" and significant:
        notes.append(
            "This is a patch version, yet the score moved significantly "
            f"(p = {verdict.p_value:.3g}); a change of behaviour deserves a minor or major version."
        )
    if bump in ("patch", "minor") and any(c.name == "model" for c in changes):
        notes.append("The model changed under a " + bump + " version; a model switch is a major change.")
    if bump in ("same", "downgrade") and changes:
        notes.append(f"The config changed but its version did not go up ({bump}); published versions are immutable.")
    return notes


def config_diff(verdict: Verdict, base: Side | None, cand: Side) -> ConfigDiff:
    """Compare the candidate's config with what the baseline recorded of its own."""
    if base is None:
        return ConfigDiff(False, False, None, (), (), (), cand.config, ())
    bump = version_bump(base.provenance.config_version, cand.provenance.config_version)
    changes = _field_changes(base, cand)
    known = base.config is not None
    sys_diff: tuple[LineDiff, ...] = ()
    user_diff: tuple[LineDiff, ...] = ()
    if base.config is not None and cand.config is not None:
        sys_diff = line_diff(base.config.system_prompt, cand.config.system_prompt)
        user_diff = line_diff(base.config.user_template, cand.config.user_template)
    notes = _notes(bump, changes, verdict)
    if not known:
        notes.append("The baseline does not store its prompt text or parameters, so only versions, hashes and models are compared.")
        if base.provenance.config_hash and base.provenance.config_hash != cand.provenance.config_hash:
            notes.append("The config hashes differ: the prompt, the parameters or the tools changed.")
    return ConfigDiff(True, known, bump, tuple(changes), sys_diff, user_diff, cand.config, tuple(notes))
