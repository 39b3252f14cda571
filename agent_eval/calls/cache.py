"""A local response cache (SQLite), keyed by everything that shapes a sample, repetition included.

Several processes may share one cache: WAL mode and a busy timeout. API keys are never part
of a key or a value.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent_eval.masking import mask_text, usable_secrets
from agent_eval.providers.base import Completion, CompletionRequest
from agent_eval.records import ToolCall, Usage

__all__ = ["CacheUnavailableError", "CorruptCacheError", "ResponseCache", "cache_key"]


class CacheUnavailableError(Exception):
    """This run cannot use the cache (the message says why) and runs without it."""


class CorruptCacheError(CacheUnavailableError):
    """The cache file is not a readable SQLite database; it was moved aside (the message says where)."""


# Primary result codes that mean the file is not our cache: SQLITE_ERROR (a foreign table), SQLITE_CORRUPT,
# SQLITE_NOTADB. Anything else (busy, locked, I/O) is another process at work on a good cache, never moved aside.
_NOT_OUR_CACHE = {1, 11, 26}
_OPEN_ATTEMPTS = 6

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
)
"""


def cache_key(provider: str, base_url: str | None, request: CompletionRequest) -> str:
    """A hash of provider, endpoint, model, params, messages, tools, repetition and seed.

    An agent's request through the gateway is keyed by its whole body as sent (every field) instead.
    """
    from agent_eval._hashing import canonical_hash

    if request.wire is not None:
        return canonical_hash({
            "provider": provider, "base_url": base_url or "", "api": request.wire.api,
            "body": dict(request.wire.body), "headers": [list(h) for h in request.wire.headers],
            "repetition": request.repetition, "seed": request.seed, "case": request.case_id,
        })
    return canonical_hash({
        "provider": provider, "base_url": base_url or "", "model": request.model,
        "params": dict(request.params), "tools": list(request.tools),
        "messages": [m.model_dump(mode="json") for m in request.messages],
        "repetition": request.repetition, "seed": request.seed, "case": request.case_id,
    })


class ResponseCache:
    """get/put of completions by key; one connection per process."""

    def __init__(self, folder: Path, secrets: Sequence[str] = ()) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._secrets = tuple(json.dumps(s)[1:-1] for s in usable_secrets(secrets))  # as they appear in JSON text
        self.path = folder / "responses.sqlite"
        for attempt in range(_OPEN_ATTEMPTS):
            try:
                self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            except sqlite3.DatabaseError as exc:  # not a file we may open (a folder, no permission)
                raise CacheUnavailableError(f"response cache {self.path} cannot be opened ({exc}); running "
                                            "without the cache") from None
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute(_SCHEMA)
                self._db.execute("SELECT key, value FROM responses LIMIT 1").fetchall()
                return
            except sqlite3.DatabaseError as exc:
                self._db.close()
                if (getattr(exc, "sqlite_errorcode", 1) & 0xFF) in _NOT_OUR_CACHE:  # random bytes, a truncated file
                    raise CorruptCacheError(self._move_aside(exc)) from None
                if attempt == _OPEN_ATTEMPTS - 1:
                    raise CacheUnavailableError(f"response cache {self.path} is busy ({exc}); running without "
                                                "the cache this time") from None
                # two processes switching a new file to WAL at once: one is told "locked" without waiting
                time.sleep(0.05 * 2**attempt)

    def _move_aside(self, exc: sqlite3.DatabaseError) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                source.replace(Path(f"{aside}{suffix}"))
        return (f"response cache {self.path} is unreadable ({exc}); moved it to {aside.name} and running "
                "without the cache (the next run starts a new one)")

    def get(self, key: str) -> Completion | None:
        try:
            row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError:
            return None  # a page damaged after opening: a miss, never a crash of the run
        if row is None:
            return None
        try:
            return _decode(json.loads(row[0]))
        except (ValueError, KeyError, TypeError, RecursionError):
            return None  # an unreadable entry is a miss, and the next put replaces it

    def put(self, key: str, completion: Completion) -> None:
        try:
            self._db.execute("INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)",
                             (key, mask_text(json.dumps(_encode(completion)), self._secrets)))
        except sqlite3.DatabaseError:
            pass  # not cached this time; the answer itself is kept in runs.jsonl

    def get_value(self, key: str) -> Any:
        """A JSON value stored by `put_value` (embeddings, moderation), or None."""
        row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        try:
            return json.loads(row[0]) if row is not None else None
        except ValueError:
            return None

    def put_value(self, key: str, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)",
                         (key, mask_text(json.dumps(value), self._secrets)))

    def close(self) -> None:
        self._db.close()


def _encode(c: Completion) -> dict[str, Any]:
    return {
        "text": c.text, "model": c.model, "latency_ms": c.latency_ms, "finish_reason": c.finish_reason,
        "usage": c.usage.model_dump(), "tool_calls": [t.model_dump() for t in c.tool_calls],
        "warnings": list(c.warnings), **({"raw": c.raw} if c.raw is not None else {}),
    }


def _decode(d: dict[str, Any]) -> Completion:
    return Completion(
        text=d["text"], model=d["model"], latency_ms=d["latency_ms"], finish_reason=d.get("finish_reason"),
        usage=Usage(**d["usage"]), tool_calls=tuple(ToolCall(**t) for t in d.get("tool_calls", [])),
        warnings=tuple(d.get("warnings", ())), raw=d.get("raw"),
    )
