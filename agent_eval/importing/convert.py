"""`agent-eval import`: production conversations to golden cases tagged `needs-review`.

Redact (optional), keep user and assistant text (the config brings its own system prompt, and the agent
makes its own tool calls; images, audio and files are counted, in the summary and the case's metadata
`parts_not_kept`), key by the normalised input,
deduplicate, sample deterministically (stratified when asked), skip ids already in the target file,
and append the new cases. Cases carry no checks: the suite leaves them out of the gate until a
reviewer adds checks or rubrics.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_eval.errors import InputError
from agent_eval.importing.logs import Conversation
from agent_eval.importing.sampling import input_key, redact, sample

__all__ = ["NEEDS_REVIEW", "ImportOptions", "ImportSummary", "Sampled", "case_id", "import_conversations",
           "sample_conversations"]

NEEDS_REVIEW = "needs-review"
# Tool results need the assistant tool call they answer, which a replay would make anew: user and assistant text only.
_ROLES = ("user", "assistant")


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """How to turn logs into cases."""

    rate: float = 1.0
    stratify: str | None = None
    min_per_stratum: int = 1
    redact: bool = False
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What happened to the conversations read."""

    read: int
    skipped: int  # no user message
    unique: int
    sampled: int
    existing: int  # sampled, but their id is already in the file
    written: int
    strata: dict[str, int]  # stratum -> cases written
    not_kept: dict[str, int] = field(default_factory=dict)  # kind (image, audio, file) -> parts of written cases


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A conversation as imported: its input key, user and assistant text, the production reply, its stratum."""

    key: str
    messages: tuple[tuple[str, str], ...]
    output: str | None
    stratum: str
    source: str
    not_kept: dict[str, int]


def _prepare(conversation: Conversation, options: ImportOptions) -> _Candidate | None:
    def clean(text: str) -> str:
        return redact(text) if options.redact else text

    messages = tuple((role, clean(text)) for role, text in conversation.messages if role in _ROLES and text.strip())
    if not any(role == "user" for role, _ in messages):
        return None
    output = clean(conversation.output) if conversation.output is not None else None
    stratum = "(none)"
    if options.stratify:
        value = conversation.fields.get(options.stratify)
        stratum = "(none)" if value is None else str(value)
    return _Candidate(input_key([f"{r}: {t}" for r, t in messages]), messages, output, stratum, conversation.source,
                      conversation.not_kept)


def _input_key(case_input: Any) -> str | None:
    """The key of an existing case's input, as an imported conversation would have it."""
    if isinstance(case_input, str):
        return input_key([f"user: {case_input}"])
    if isinstance(case_input, list):
        parts = [f"{m.get('role')}: {m.get('content')}" for m in case_input
                 if isinstance(m, dict) and m.get("role") in _ROLES and str(m.get("content") or "").strip()]
        return input_key(parts) if parts else None
    return None


def _existing(path: Path) -> set[str]:
    """Ids and input keys of the cases already in the file: a conversation matching either is not added again."""
    ids: set[str] = set()
    if not path.exists():
        return ids
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(path, "not valid UTF-8; expected a JSONL cases file") from None
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                row = json.loads(line)
            except RecursionError:
                raise InputError(path, "invalid JSON: nested too deeply", line=n) from None
            except ValueError as exc:
                raise InputError(path, f"invalid JSON: {exc}", line=n) from None
            if isinstance(row, dict) and "id" in row:
                ids.add(str(row["id"]))
                key = _input_key(row.get("input"))
                if key is not None:
                    ids.add(f"prod-{key[:12]}")
    return ids


def _case(candidate: _Candidate, options: ImportOptions) -> dict[str, Any]:
    metadata: dict[str, Any] = {"source": candidate.source, "production_output": candidate.output}
    if options.stratify:
        metadata.update(stratify=options.stratify, stratum=candidate.stratum)
    if candidate.not_kept:  # the reviewer sees what the production conversation had that the case has not
        metadata["parts_not_kept"] = dict(sorted(candidate.not_kept.items()))
    return {
        "id": f"prod-{candidate.key[:12]}",
        "tags": list(dict.fromkeys([NEEDS_REVIEW, "imported", *options.tags])),
        "input": [{"role": role, "content": text} for role, text in candidate.messages],
        "metadata": metadata,
    }


Sampled = _Candidate  # what `agent-eval shadow` replays: the same conversations `import` would keep


def sample_conversations(conversations: Iterable[Conversation],
                         options: ImportOptions) -> tuple[list[_Candidate], int, int, int]:
    """The deduplicated conversations the hash sampling keeps, in log order; and how many were read, skipped
    (no user message) and unique. The same log and options always give the same sample."""
    read = skipped = 0
    unique: dict[str, _Candidate] = {}
    for conversation in conversations:
        read += 1
        candidate = _prepare(conversation, options)
        if candidate is None:
            skipped += 1
            continue
        unique.setdefault(candidate.key, candidate)
    chosen = sample(list(unique.values()), lambda c: c.key, options.rate,
                    stratum=(lambda c: c.stratum) if options.stratify else None,
                    min_per_stratum=options.min_per_stratum if options.stratify else 0)
    return chosen, read, skipped, len(unique)


def case_id(candidate: _Candidate) -> str:
    """The case id an imported conversation gets: `prod-` and 12 hex digits of its input key."""
    return f"prod-{candidate.key[:12]}"


def import_conversations(conversations: Iterable[Conversation], target: Path, options: ImportOptions) -> ImportSummary:
    """Append the sampled, deduplicated conversations to `target` (JSONL cases) and say what happened."""
    chosen, read, skipped, unique_count = sample_conversations(conversations, options)
    have = _existing(target)
    new = [_case(c, options) for c in chosen if f"prod-{c.key[:12]}" not in have]
    if new:
        target.parent.mkdir(parents=True, exist_ok=True)
        old = target.read_text(encoding="utf-8") if target.exists() else ""
        prefix = "\n" if old and not old.endswith("\n") else ""
        with target.open("a", encoding="utf-8") as handle:
            handle.write(prefix + "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in new))
    strata: dict[str, int] = {}
    not_kept: dict[str, int] = {}
    for c in chosen:
        if f"prod-{c.key[:12]}" not in have:
            strata[c.stratum] = strata.get(c.stratum, 0) + 1
            for kind, count in c.not_kept.items():
                not_kept[kind] = not_kept.get(kind, 0) + count
    return ImportSummary(read=read, skipped=skipped, unique=unique_count, sampled=len(chosen),
                         existing=len(chosen) - len(new), written=len(new), strata=strata,
                         not_kept=dict(sorted(not_kept.items())))
