"""Post or update the pull request's agent-eval comment through the GitHub REST API (stdlib urllib only).

    python -m agent_eval.ci.comment SUMMARY_MD [--pr N]

Environment: GITHUB_TOKEN, GITHUB_REPOSITORY (owner/name), GITHUB_EVENT_PATH (the pull_request event),
GITHUB_API_URL (default https://api.github.com); GITHUB_SERVER_URL and GITHUB_RUN_ID add a link to the run.
The comment is found by the hidden marker `<!-- agent-eval-summary -->` and edited in place, so a pull request
keeps one agent-eval comment however often it is pushed to. Without a token or a pull request it only prints a
notice; an API error is a warning (exit 0): the gate decides the job, never the comment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_eval.ci._actions import annotate, load_event

__all__ = ["MARKER", "GitHub", "GitHubError", "comment_body", "find_comment", "main", "pull_request_number",
           "upsert_comment"]

MARKER = "<!-- agent-eval-summary -->"
MAX_BODY = 65_000  # GitHub refuses comments over 65,536 characters
_PAGE = 100
_MAX_PAGES = 30


class GitHubError(Exception):
    """The API answered with an error status, or could not be reached (status 0)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(f"HTTP {status}: {message}" if status else message)


@dataclass(frozen=True, slots=True)
class GitHub:
    """A minimal REST client: JSON in, JSON out, bearer token."""

    api_url: str
    token: str
    timeout_s: float = 30.0

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.api_url.rstrip("/") + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "agent-eval",
            **({"Content-Type": "application/json"} if data is not None else {}),
        })
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as exc:
            raise GitHubError(exc.code, _error_message(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise GitHubError(0, f"cannot reach {self.api_url}: {getattr(exc, 'reason', exc)}") from None
        try:
            return json.loads(payload) if payload.strip() else None
        except (ValueError, RecursionError):
            raise GitHubError(0, f"{self.api_url} answered with something that is not JSON") from None


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("message", exc.reason))
    except (ValueError, AttributeError, OSError, RecursionError):
        return str(exc.reason)


def pull_request_number(event: Mapping[str, Any]) -> int | None:
    """The pull request of a pull_request(_target) event, or of a comment on one."""
    pr, issue = event.get("pull_request"), event.get("issue")
    number = pr.get("number") if isinstance(pr, dict) else None
    if number is None and isinstance(issue, dict) and "pull_request" in issue:
        number = issue.get("number")
    return number if isinstance(number, int) else None


def find_comment(gh: GitHub, repo: str, number: int) -> int | None:
    """The id of the pull request's first comment carrying the marker, if any."""
    for page in range(1, _MAX_PAGES + 1):
        comments = gh.request("GET", f"/repos/{repo}/issues/{number}/comments?per_page={_PAGE}&page={page}")
        for comment in comments or []:
            if MARKER in (comment.get("body") or ""):
                return int(comment["id"])
        if not comments or len(comments) < _PAGE:
            return None
    return None


def upsert_comment(gh: GitHub, repo: str, number: int, body: str) -> tuple[str, int]:
    """Edit the marked comment, or create it; returns ("updated" | "created", comment id)."""
    existing = find_comment(gh, repo, number)
    if existing is not None:
        gh.request("PATCH", f"/repos/{repo}/issues/comments/{existing}", {"body": body})
        return "updated", existing
    created = gh.request("POST", f"/repos/{repo}/issues/{number}/comments", {"body": body})
    return "created", int(created["id"])


def comment_body(summary: str, env: Mapping[str, str]) -> str:
    """The summary with the marker first, a link to the workflow run last, within GitHub's size limit."""
    body = summary if MARKER in summary else f"{MARKER}\n{summary}"
    server, repo, run_id = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    run_url = f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else ""
    footer = f"\n\n<sub>[Workflow run]({run_url})</sub>\n" if run_url else ""
    if len(body) + len(footer) > MAX_BODY:
        cut = "\n\n… (truncated: the full summary is in the workflow run's step summary and artifact)"
        body = body[: MAX_BODY - len(footer) - len(cut)] + cut
    return body.rstrip("\n") + "\n" + footer


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Post or update the comment; exit 0 unless the summary file is missing (2)."""
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(prog="python -m agent_eval.ci.comment", description=__doc__.split("\n")[0])
    parser.add_argument("summary", type=Path, help="summary.md written by agent-eval run")
    parser.add_argument("--pr", type=int, default=None, help="pull request number [default: from the event]")
    args = parser.parse_args(argv)
    try:
        summary = args.summary.read_text(encoding="utf-8")
    except OSError as exc:
        annotate("error", f"cannot read {args.summary}: {exc.strerror or exc}")
        return 2
    token, repo = env.get("GITHUB_TOKEN", ""), env.get("GITHUB_REPOSITORY", "")
    number = args.pr if args.pr is not None else pull_request_number(load_event(env))
    if not token:
        annotate("notice", "no GitHub token, so no pull-request comment (the step summary has the verdict)")
        return 0
    if number is None or not repo:
        annotate("notice", "not a pull request, so no comment (the step summary has the verdict)")
        return 0
    gh = GitHub(env.get("GITHUB_API_URL") or "https://api.github.com", token)
    try:
        action, comment_id = upsert_comment(gh, repo, number, comment_body(summary, env))
    except GitHubError as exc:
        hint = (" (a pull request from a fork gets a read-only token; the step summary has the verdict)"
                if exc.status in (401, 403, 404) else "")
        annotate("warning", f"could not comment on pull request #{number}: {exc}{hint}")
        return 0
    print(f"agent-eval: {action} comment {comment_id} on {repo}#{number}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
