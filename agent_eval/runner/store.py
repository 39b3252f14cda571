"""The results folder: `manifest.json` at start, `runs.jsonl` streamed, `results.json` at the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticSerializationError

from agent_eval.records import RunRecord, RunStatus
from agent_eval.untrusted import clean_model, invalid_unicode_warning

__all__ = ["Manifest", "RunsWriter", "read_runs"]

MANIFEST_SCHEMA_VERSION = 1


class Manifest(BaseModel):
    """What a run was started with: enough to resume it after a crash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = MANIFEST_SCHEMA_VERSION
    suite_path: str
    suite_hash: str
    config_path: str
    config_hash: str
    seed: int
    repeat: int
    filter: tuple[str, ...] = ()
    shard: tuple[int, int] | None = None
    started_at: str


class RunsWriter:
    """Appends one JSON line per finished run and flushes it at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] = path.open("a", encoding="utf-8")

    def append(self, record: RunRecord) -> RunRecord:
        """Write the record; one holding text that cannot be written (invalid Unicode) is repaired first.

        Returns the record as written.
        """
        try:
            line = record.model_dump_json()
        except PydanticSerializationError:
            cleaned, count = clean_model(record)
            warning = invalid_unicode_warning(count, "run record")
            record = cleaned.model_copy(update={"warnings": (*cleaned.warnings, warning)})
            line = record.model_dump_json()
        self._handle.write(line + "\n")
        self._handle.flush()
        return record

    def close(self) -> None:
        self._handle.close()


def read_runs(path: Path) -> tuple[dict[tuple[str, int], RunRecord], list[str]]:
    """The last usable record per (case, repetition), and a warning per unreadable line.

    A completed record is never replaced by a later errored one.
    """
    runs: dict[tuple[str, int], RunRecord] = {}
    warnings: list[str] = []
    if not path.exists():
        return runs, warnings
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = RunRecord.model_validate(json.loads(line))
            except (ValueError, ValidationError, RecursionError):
                warnings.append(f"{path}:{number}: corrupt or truncated line skipped")
                continue
            key = (record.case_id, record.index)
            previous = runs.get(key)
            if previous is None or record.status is not RunStatus.ERRORED or previous.status is RunStatus.ERRORED:
                runs[key] = record
    return runs, warnings
