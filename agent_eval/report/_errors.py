"""The reasons runs errored, grouped and counted, with anything that looks like a secret masked.

The console, summary.md and `--format json` all show the same few lines, so "100% errored" always
comes with why.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from agent_eval.records import Results

__all__ = ["ErrorCount", "ErrorSummary", "redact_secrets", "top_errors"]

_SECRETS = (
    re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_-]{8,}"),  # OpenAI/Anthropic-style keys (sk-..., sk-ant-...)
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"\b(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{16,}"),  # GitHub tokens
    re.compile(r"(?i)(\bbearer\s+)[^\s\"',;]+"),
    re.compile(r"(?i)(\b(?:api[_-]?key|token|secret|password)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]{6,}"),
)


@dataclass(frozen=True, slots=True)
class ErrorCount:
    """One distinct reason and how many runs errored with it."""

    kind: str
    message: str
    count: int


def redact_secrets(text: str) -> str:
    """The text with key-like tokens replaced by `***`."""
    for pattern in _SECRETS:
        text = pattern.sub(lambda m: (m.group(1) if m.re.groups else "") + "***", text)
    return text


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    """Errored runs out of all runs, and the most frequent reasons."""

    errored: int
    runs: int
    reasons: tuple[ErrorCount, ...]


def top_errors(results: Results, limit: int = 5) -> ErrorSummary:
    """How many runs errored, and the `limit` most frequent reasons (most frequent first)."""
    counts: Counter[tuple[str, str]] = Counter()
    runs = 0
    for case in results.cases:
        runs += len(case.runs)
        for run in case.runs:
            if run.error is not None:
                counts[(run.error.kind, redact_secrets(" ".join(run.error.message.split())))] += 1
    ranked = tuple(ErrorCount(kind, message, n) for (kind, message), n in counts.most_common(limit))
    return ErrorSummary(sum(counts.values()), runs, ranked)
