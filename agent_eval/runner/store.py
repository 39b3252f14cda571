"""The results folder: `manifest.json` at start, `runs.jsonl` streamed, `results.json` at the end."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticSerializationError

from agent_eval.masking import mask_json, usable_secrets
from agent_eval.records import RunRecord, RunStatus
from agent_eval.untrusted import clean_model, invalid_unicode_warning

__all__ = ["LOCK_NAME", "FolderLock", "Manifest", "RunsWriter", "read_runs"]

LOCK_NAME = ".agent-eval.lock"

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
    use_cache: bool = True  # --no-cache: a resumed run neither reads nor writes the cache either
    started_at: str


class RunsWriter:
    """Appends one JSON line per finished run and flushes it at once, every known secret value masked."""

    def __init__(self, path: Path, secrets: Sequence[str] = ()) -> None:
        self.path = path
        self.secrets = usable_secrets(secrets)
        self._handle: IO[str] = path.open("a", encoding="utf-8")
        if _ends_mid_line(path):  # a line cut by kill -9 or a full disk: the next record starts on its own line
            self._handle.write("\n")

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
        if self.secrets:  # an endpoint that echoes a key back: masked here, for every file (serialized once)
            masked = mask_json(line, self.secrets)
            if masked is not line:
                line, record = masked, RunRecord.model_validate_json(masked)
        self._handle.write(line + "\n")
        self._handle.flush()
        return record

    def close(self) -> None:
        self._handle.close()


def _ends_mid_line(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"


class FolderLock:
    """A results folder held by one run: created if needed, with a lock file naming the holder's pid.

    A second run on the same folder is refused while the holder lives; a lock left by a killed process
    (its pid is gone) is taken over. `release` removes the lock, and the folder too if this run created
    it and wrote nothing into it.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LOCK_NAME
        self._created = False

    def acquire(self) -> FolderLock:
        from agent_eval.errors import UsageError

        if not self.folder.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            self._created = True
        for _ in range(2):
            if self._link():
                return self
            holder = self._holder()
            if holder is not None and holder != os.getpid() and _alive(holder):
                break
            self.path.unlink(missing_ok=True)  # stale: its process is gone
        else:
            holder = self._holder()
        self._remove_if_created()
        raise UsageError(f"results folder {self.folder} is in use by another agent-eval run (pid {holder}); "
                         "wait for it to finish or choose another --out")

    def release(self) -> None:
        if self._holder() == os.getpid():
            self.path.unlink(missing_ok=True)
        self._remove_if_created()

    def _link(self) -> bool:
        """Create the lock with its content in one step (a hard link fails if the name exists)."""
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".lock.", suffix=".tmp")
        try:
            os.write(fd, f"{os.getpid()}\n".encode())
            os.close(fd)
            os.link(tmp, self.path)
            return True
        except FileExistsError:
            return False
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _holder(self) -> int | None:
        try:
            return int(self.path.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None

    def _remove_if_created(self) -> None:
        if self._created:
            try:
                self.folder.rmdir()  # only when empty: never removes what a run wrote
            except OSError:
                pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


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
