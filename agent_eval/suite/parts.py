"""Message content as written in a case or a chat dataset: text, or a list of parts in OpenAI's format (text,
image_url, file, input_audio) or ours ({type: image|pdf|audio, file: path} or {type: image, url: ...}), read into
`ContentPart`s. A part read from a file stays inside the suite's folder, like a `file:` var."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

from agent_eval.records import ContentPart
from agent_eval.suite.files import MAX_FILE_BYTES, NamedFile

__all__ = ["PART_TYPES", "file_part", "read_content"]

# What each provider accepts besides text (a case sending another kind is refused before any call)
PART_TYPES: dict[str, frozenset[str]] = {
    "openai": frozenset({"image", "pdf", "audio"}),
    "anthropic": frozenset({"image", "pdf"}),
    "mock": frozenset({"image", "pdf", "audio"}),
}
_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+);base64,(?P<data>[A-Za-z0-9+/=\s]*)$")
_KINDS = {"image": "image", "application/pdf": "pdf", "audio": "audio"}

ReadFile = Callable[[str], NamedFile]


def file_part(found: NamedFile) -> ContentPart:
    """A binary file read for a case as a part of its own kind."""
    return ContentPart(type=found.kind, media_type=found.media_type,  # type: ignore[arg-type]
                       data=base64.b64encode(found.data).decode("ascii"), name=found.name)


def _from_url(url: Any, name: str | None = None) -> ContentPart:
    if not isinstance(url, str) or not url:
        raise ValueError("an image_url part needs a url")
    match = _DATA_URL.match(url)
    if match is not None:
        media_type = match["type"]
        kind = _KINDS.get(media_type) or _KINDS.get(media_type.split("/")[0])
        if kind is None:
            raise ValueError(f"data URL of type {media_type}: expected an image, application/pdf or audio")
        data = re.sub(r"\s", "", match["data"])
        if len(data) * 3 // 4 > MAX_FILE_BYTES:
            raise ValueError(f"an inline part is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        try:
            base64.b64decode(data, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"a data URL's base64 does not decode: {exc}") from None
        return ContentPart(type=kind, media_type=media_type, data=data, name=name)  # type: ignore[arg-type]
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"an image url is http(s) or a data: URL, got {url[:40]!r}")
    return ContentPart(type="image", media_type="image/*", url=url, name=name)


def _part(item: Any, read: ReadFile | None) -> ContentPart | str:
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        raise ValueError("a content part is a mapping with a type")  # noqa: TRY004  (a user input error)
    kind = item["type"]
    if kind == "text":
        return str(item.get("text", ""))
    if kind == "image_url":
        value = item.get("image_url")
        return _from_url(value.get("url") if isinstance(value, dict) else value)
    if kind == "file":
        value = item.get("file")
        if not isinstance(value, dict):
            raise ValueError("a file part needs file: {file_data, filename}")
        return _from_url(value.get("file_data"), value.get("filename"))
    if kind == "input_audio":
        value = item.get("input_audio")
        if not isinstance(value, dict) or value.get("format") not in ("wav", "mp3"):
            raise ValueError("an input_audio part needs input_audio: {data, format: wav|mp3}")
        media_type = "audio/mpeg" if value["format"] == "mp3" else "audio/wav"
        return _from_url(f"data:{media_type};base64,{value.get('data', '')}")
    if kind in ("image", "pdf", "audio"):
        if isinstance(item.get("url"), str):
            return _from_url(item["url"])
        name = item.get("file")
        if not isinstance(name, str):
            raise ValueError(f"an {kind} part needs file: a path beside the suite (or url:)")
        if read is None:
            raise ValueError("this row may not read files; the suite opts in with `dataset: {allow_files: true}`")
        part = file_part(read(name))
        if part.type != kind:
            raise ValueError(f"file '{name}' is {part.media_type}, not an {kind}")
        return part
    raise ValueError(f"unknown content part type {kind!r}; expected text, image_url, file, input_audio, image, pdf "
                     "or audio")


def read_content(value: str | tuple[dict[str, Any], ...] | list[Any], read: ReadFile | None
                 ) -> tuple[str, tuple[ContentPart, ...]]:
    """(the text, the other parts) of a message's content; ValueError names what is wrong with a part."""
    if isinstance(value, str):
        return value, ()
    texts: list[str] = []
    parts: list[ContentPart] = []
    for i, item in enumerate(value):
        try:
            found = _part(item, read)
        except ValueError as exc:
            raise ValueError(f"content[{i}]: {exc}") from None
        if isinstance(found, str):
            texts.append(found)
        else:
            parts.append(found)
    return "".join(texts), tuple(parts)
