"""Reading files as they were at a git ref (`git show REF:path`), for `validate --against`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agent_eval.errors import UsageError

__all__ = ["GitRepo"]


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"cannot run git: {exc}") from None


class GitRepo:
    """The repository holding a folder, and one ref in it to compare against."""

    def __init__(self, folder: Path) -> None:
        found = _git(folder, "rev-parse", "--show-toplevel")
        if found.returncode != 0:
            raise UsageError(f"--against needs a git repository; {folder.resolve()} is not in one")
        self.root = Path(found.stdout.strip()).resolve()

    def default_ref(self) -> str | None:
        """The merge base with origin/main, else with main; None when neither exists (nothing is published yet)."""
        for branch in ("origin/main", "main"):
            base = _git(self.root, "merge-base", "HEAD", branch)
            if base.returncode == 0 and base.stdout.strip():
                return base.stdout.strip()
        return None

    def resolve(self, ref: str) -> str:
        """The commit `ref` names; UsageError naming the ref when git does not know it."""
        found = _git(self.root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if found.returncode != 0:
            raise UsageError(f"--against {ref}: not a commit in {self.root}")
        return found.stdout.strip()

    def relative(self, path: Path) -> str | None:
        """`path` relative to the repository root (POSIX), or None when it lies outside."""
        resolved = path.resolve()
        return resolved.relative_to(self.root).as_posix() if resolved.is_relative_to(self.root) else None

    def show(self, commit: str, path: Path) -> str | None:
        """The file's text at `commit`, or None when it did not exist there."""
        rel = self.relative(path)
        if rel is None:
            return None
        found = _git(self.root, "show", f"{commit}:{rel}")
        return found.stdout if found.returncode == 0 else None
