"""Which YAML files a folder holds, by one rule for every command (`run FOLDER`, `validate`, the pre-commit hook).

Recursive, sorted by path. Skipped: what git ignores (when the folder is in a git work tree), dot folders,
virtual environments (a folder with `pyvenv.cfg`), installed packages (`site-packages`, `dist-packages`,
`node_modules`, `__pycache__`, `*.egg-info`) and agent-eval's own package (its templates are not suites).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

__all__ = ["declares_suite", "yaml_files"]

_SKIPPED_NAMES = frozenset({"site-packages", "dist-packages", "node_modules", "__pycache__"})
_SUFFIXES = (".yaml", ".yml")


def yaml_files(folder: Path) -> list[Path]:
    """Every *.yaml / *.yml file below `folder` that the discovery rule keeps, sorted."""
    visible = _git_visible(folder)
    own_package = Path(__file__).resolve().parent.parent
    found = []
    for path in _walk(folder, own_package):
        if visible is not None and path.resolve() not in visible:
            continue
        found.append(path)
    return sorted(found)


def declares_suite(file: Path) -> bool:
    """A YAML file with a top-level `suite:` key."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return any(line.startswith("suite:") for line in text.splitlines())


def _walk(folder: Path, own_package: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not _skipped_folder(here / d, own_package))
        for name in sorted(files):
            if name.endswith(_SUFFIXES) and not name.startswith("."):
                yield here / name


def _skipped_folder(path: Path, own_package: Path) -> bool:
    name = path.name
    if name.startswith(".") or name in _SKIPPED_NAMES or name.endswith(".egg-info"):
        return True
    if (path / "pyvenv.cfg").exists():
        return True
    try:
        return path.resolve() == own_package
    except OSError:
        return True


def _git_visible(folder: Path) -> frozenset[Path] | None:
    """The YAML files git tracks or would track below `folder` (not ignored); None outside a git work tree."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
             "*.yaml", "*.yml"],
            capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return frozenset((folder / name).resolve() for name in done.stdout.decode("utf-8", "replace").split("\0") if name)
