"""Content hashes of JSON-able data, shared by the loader, the caches and the judge."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_hash"]


def canonical_hash(value: Any) -> str:
    """A short, stable content hash of JSON-able data (keys sorted)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
