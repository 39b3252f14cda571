"""`validate --against REF`: every config compared with its version at REF, rule by rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agent_eval.suite.confighash import behaviour_hash, behaviour_view, with_defaults
from agent_eval.versioning.gitref import GitRepo
from agent_eval.versioning.rules import ConfigVersion, Finding, authorship, compare_versions

__all__ = ["ConfigReview", "review_against"]


@dataclass(frozen=True, slots=True)
class ConfigReview:
    """One config file: its version at REF and now, and what the rules found."""

    path: Path
    old_version: str | None  # None: the file is new since REF
    new_version: str
    changed: bool
    findings: tuple[Finding, ...]


def _parse(text: str) -> dict[str, Any] | None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def _version(raw: dict[str, Any], path: Path, repo: GitRepo, commit: str | None) -> ConfigVersion:
    full = with_defaults(raw)
    roots = [path.parent.resolve(), repo.root]

    def read(source: Path) -> str | None:
        if commit is None or repo.relative(source) is None:
            try:
                return source.read_text(encoding="utf-8")
            except OSError:
                return None
        return repo.show(commit, source)

    found = behaviour_hash(full, path.parent, roots=roots, read=read)
    return ConfigVersion(raw=full, view=behaviour_view(full), hash=found.hash, sources=found.sources)


def review_against(configs: Sequence[Path], ref: str | None) -> tuple[str | None, list[ConfigReview]]:
    """(the commit compared with, one review per config file); unchanged files have no findings.

    `ref` None: the merge base with origin/main, else main; when neither exists nothing was published
    yet, and the commit is None with no reviews.
    """
    repo = GitRepo(configs[0].parent if configs else Path.cwd())
    commit = repo.resolve(ref) if ref else repo.default_ref()
    if commit is None:
        return None, []
    reviews = []
    for path in configs:
        raw = _parse(path.read_text(encoding="utf-8"))
        if raw is None:
            continue  # not YAML: the schema check already said so
        now = _version(raw, path, repo, None)
        old_text = repo.show(commit, path)
        old_raw = _parse(old_text) if old_text is not None else None
        if old_raw is None:
            reviews.append(ConfigReview(path, None, str(raw.get("version")), True, tuple(authorship(None, now))))
            continue
        was = _version(old_raw, path, repo, commit)
        changed = was.hash != now.hash or was.raw.get("version") != now.raw.get("version")
        findings = tuple(compare_versions(was, now)) if changed else ()
        reviews.append(ConfigReview(path, str(old_raw.get("version")), str(raw.get("version")), changed, findings))
    return commit, reviews
