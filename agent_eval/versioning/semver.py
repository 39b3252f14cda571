"""Semantic versions of configs: parse, compare, and name the bump between two of them."""

from __future__ import annotations

import re

__all__ = ["BUMP_ORDER", "bump", "parse"]

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
# What a change needs, least first; "none" for no behaviour change.
BUMP_ORDER = ("none", "patch", "minor", "major")


def parse(version: str | None) -> tuple[int, int, int] | None:
    """(major, minor, patch), or None when `version` is not a semantic version."""
    match = _SEMVER.match((version or "").strip())
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def bump(old: str | None, new: str | None) -> str | None:
    """'major', 'minor', 'patch', 'none' (same numbers), 'downgrade', or None when either is not semver."""
    a, b = parse(old), parse(new)
    if a is None or b is None:
        return None
    if a == b:
        return "none"
    if b < a:
        return "downgrade"
    return "major" if b[0] != a[0] else "minor" if b[1] != a[1] else "patch"
