"""JSON Schemas of checks that never touch the network: `$ref`s resolve inside the schema or not at all.

jsonschema fetches an unknown `$ref` URL by default (on the event loop, with no timeout); here a remote
or file `$ref` is refused when the suite loads, and the validator's registry refuses any retrieval left.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urldefrag, urljoin

from agent_eval.checks.base import CheckSpecError

__all__ = ["REF_KEYS", "check_refs", "offline_registry"]

REF_KEYS = ("$ref", "$dynamicRef", "$recursiveRef")


def _refuse(uri: str) -> Any:
    from referencing.exceptions import NoSuchResource

    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


def offline_registry() -> Any:
    """A `referencing.Registry` whose retrieve function refuses every URI: nothing is ever fetched."""
    from referencing import Registry

    return Registry(retrieve=_refuse)  # type: ignore[call-arg]


def _walk(value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(json path, key, value) of every mapping entry, depth first."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{path}.{key}"
            yield here, str(key), item
            yield from _walk(item, here)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


def check_refs(schema: Mapping[str, Any], key: str) -> None:
    """Every `$ref` points inside the schema (a `#` fragment or an `$id` it defines); anything else would be
    fetched, so it is a CheckSpecError naming `key` and the ref."""
    found = schema.get("$id")
    root = found if isinstance(found, str) else ""
    ids = {urldefrag(urljoin(root, v))[0] for _, k, v in _walk(schema, "$") if k == "$id" and isinstance(v, str)}
    ids.add(urldefrag(root)[0])
    for where, k, value in _walk(schema, "$"):
        if k not in REF_KEYS or not isinstance(value, str):
            continue
        target = urldefrag(urljoin(root, value))[0]
        if target not in ids:
            raise CheckSpecError(f"{key} refers to {value!r} at {where}: a $ref outside the schema is refused "
                                 "(agent-eval never fetches schemas); put the definition under $defs", key=key)
