"""Where this agent-eval came from, as the OWNER/REPO@REF a scaffolded workflow can pin (PEP 610 direct_url.json)."""

from __future__ import annotations

import json
import re
import subprocess
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["DISTRIBUTION", "action_from_direct_url", "github_repo", "installed_action"]

DISTRIBUTION = "agent-eval-gate"
_GITHUB = re.compile(r"^(?:git\+)?(?:https://|ssh://git@|git@)github\.com[/:]([\w.-]+)/([\w.-]+?)(?:\.git)?/?$")


def github_repo(url: str) -> str | None:
    """OWNER/REPO of a GitHub clone URL (https or ssh), else None."""
    match = _GITHUB.match(url.strip())
    return f"{match[1]}/{match[2]}" if match else None


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _pushed_checkout(folder: Path) -> str | None:
    """OWNER/REPO@COMMIT of a local checkout whose HEAD is on a remote-tracking branch of a GitHub remote."""
    remote = _git(folder, "remote", "get-url", "origin")
    repo = github_repo(remote) if remote else None
    head = _git(folder, "rev-parse", "HEAD")
    # A commit only in this clone cannot be installed by a CI runner: it must be on a branch of the remote.
    if not repo or not head or not _git(folder, "branch", "-r", "--contains", head):
        return None
    return f"{repo}@{head}"


def action_from_direct_url(direct_url: dict[str, object]) -> str | None:
    """OWNER/REPO@REF from a PEP 610 record: a git install from GitHub, or a pushed local checkout."""
    url = str(direct_url.get("url", ""))
    vcs = direct_url.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") == "git":
        repo = github_repo(url)
        commit = vcs.get("commit_id")
        return f"{repo}@{commit}" if repo and isinstance(commit, str) and commit else None
    if "dir_info" in direct_url and url.startswith("file://"):
        return _pushed_checkout(Path(unquote(urlparse(url).path)))
    return None


def installed_action() -> str | None:
    """The OWNER/REPO@REF this agent-eval was installed from, when that is a GitHub repository; else None."""
    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        return None
    return action_from_direct_url(record) if isinstance(record, dict) else None
