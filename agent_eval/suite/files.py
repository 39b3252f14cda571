"""Files a suite or config names (prompt files, `file:` values): resolved inside the folder of the file that
names them, size-limited, and read as text or as a content part (image, PDF, audio) with its media type."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agent_eval.errors import InputError

__all__ = ["FILE_PREFIX", "MAX_FILE_BYTES", "NamedFile", "contained_path", "read_named_file"]

FILE_PREFIX = "file:"
MAX_FILE_BYTES = 5 * 1024 * 1024  # the largest image Anthropic accepts; a text this long is no prompt either
_BINARY_TYPES = {
    "image/png": "image", "image/jpeg": "image", "image/gif": "image", "image/webp": "image",
    "application/pdf": "pdf", "audio/wav": "audio", "audio/x-wav": "audio", "audio/mpeg": "audio",
}


@dataclass(frozen=True, slots=True)
class NamedFile:
    """A file as read: text, or bytes with their kind (image, pdf, audio) and media type; `sha256` of the bytes."""

    name: str  # as written, relative to the folder
    kind: str  # text, image, pdf or audio
    media_type: str
    data: bytes
    sha256: str

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


def contained_path(base: Path, name: str, *, where: Path, line: int | None, field: str) -> Path:
    """`name` inside `base`: relative, no `..`, and still inside once links are resolved."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if not name.strip() or pure.is_absolute() or Path(name).is_absolute() or ".." in pure.parts:
        raise InputError(where, f"file '{name}' must be a relative path inside {base} (no absolute path, no '..')",
                         line=line, field=field)
    root = base.resolve()
    path = (root / pure).resolve()
    if not path.is_relative_to(root):
        raise InputError(where, f"file '{name}' leads outside {base} through a link; files must stay in that folder",
                         line=line, field=field)
    if not path.is_file():
        raise InputError(where, f"file '{name}' not found (looked for {path})", line=line, field=field)
    return path


def read_named_file(base: Path, name: str, *, where: Path, line: int | None, field: str,
                    text_only: bool = False) -> NamedFile:
    """Read a contained file: UTF-8 text unless its suffix names an image, PDF or audio type."""
    from agent_eval._files import ReadRefused, read_limited

    path = contained_path(base, name, where=where, line=line, field=field)
    try:
        data = read_limited(path, MAX_FILE_BYTES)
    except ReadRefused as exc:
        detail = str(exc).replace(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB, the most agent-eval reads",
                                  f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB, the most a named file may hold")
        raise InputError(where, f"file '{name}': {detail}", line=line, field=field) from None
    except OSError as exc:
        raise InputError(where, f"file '{name}': cannot read: {exc.strerror or exc}", line=line, field=field) from None
    media_type = mimetypes.guess_type(path.name)[0] or "text/plain"
    kind = _BINARY_TYPES.get(media_type, "text")
    digest = hashlib.sha256(data).hexdigest()
    if kind != "text":
        if text_only:
            raise InputError(where, f"file '{name}' is {media_type}; a text file is expected here",
                             line=line, field=field)
        return NamedFile(name=name, kind=kind, media_type=media_type, data=data, sha256=digest)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(where, f"file '{name}' is not UTF-8 text (byte {exc.start}); save it as UTF-8, or use "
                         "an image (.png, .jpg, .gif, .webp), .pdf, .wav or .mp3", line=line, field=field) from None
    return NamedFile(name=name, kind="text", media_type="text/plain", data=data, sha256=digest)
