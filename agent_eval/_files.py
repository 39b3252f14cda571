"""Writing files so that a reader never sees half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["MAX_READ_BYTES", "ReadRefused", "read_limited", "write_atomic"]

# The largest results, baseline or log file read whole: past it (or /dev/zero) a read would fill memory
MAX_READ_BYTES = 256 * 1024 * 1024


class ReadRefused(OSError):
    """Not a regular file, or larger than the limit: the message says which."""


def read_limited(path: Path, limit: int = MAX_READ_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; ReadRefused otherwise (a device, a pipe, a folder)."""
    import stat

    info = path.stat()  # FileNotFoundError and PermissionError pass through to the caller
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a device, pipe or socket)"
        raise ReadRefused(f"{kind}; expected a file")
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ReadRefused(f"larger than {limit // (1024 * 1024)} MB, the most agent-eval reads")
    return data


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates 0600; keep the old file's mode, or make a new one readable like any file.
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
