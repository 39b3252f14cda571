"""Route sampling parameters as the SDKs do, and build request bodies as plain JSON.

SDKs drop named arguments across versions (anthropic 2.x has no `temperature` keyword) and
OpenAI-compatible servers accept extras (`top_k`, `repetition_penalty`); both still reach the API:
the SDK's named arguments in its own body order, everything else after them (its `extra_body`).
The body is serialized here, once, as the SDK would (compact, UTF-8, no NaN), and sent through
the SDK's raw `post`: auth, base URL, headers and error classes stay the SDK's.
"""

from __future__ import annotations

import datetime
import inspect
import json
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

__all__ = ["ToolsCache", "dumps", "request_options", "sdk_body", "sdk_named", "split_params"]

# named arguments of a `create` that never go into the body
_OPTION_NAMES = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})


@lru_cache(maxsize=8)
def _named(method: Callable[..., Any]) -> frozenset[str]:
    parameters = inspect.signature(method).parameters
    return frozenset(name for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY
                     or p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD)


def sdk_named(method: Callable[..., Any]) -> frozenset[str]:
    """The keyword arguments an SDK method takes (the ones it puts in the body by name)."""
    return _named(method)


def split_params(method: Callable[..., Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for `method`: known names as they are, unknown ones under `extra_body`."""
    named = _named(method)
    kwargs = {k: v for k, v in params.items() if k in named}
    extra = {k: v for k, v in params.items() if k not in named}
    if extra:
        kwargs["extra_body"] = {**kwargs.get("extra_body", {}), **extra}
    return kwargs


def sdk_body(order: tuple[str, ...], fields: Mapping[str, Any], params: Mapping[str, Any],
             named: frozenset[str], *, not_body: frozenset[str] = frozenset()) -> bytes:
    """The JSON body the SDK's typed `create` sends for these fields and parameters.

    `order`: the SDK's body keys in its order; named parameters it does not list follow them, then
    the parameters the SDK does not name (and an explicit `extra_body`), in the config's order.
    `not_body`: named parameters the SDK sends as headers instead.
    """
    given = {**{k: v for k, v in params.items() if k in named and k not in _OPTION_NAMES and k not in not_body},
             **fields}
    body = {key: given[key] for key in order if key in given}
    body.update((k, v) for k, v in given.items() if k not in body)
    extra = params.get("extra_body")
    if isinstance(extra, Mapping):
        body.update(extra)
    body.update((k, v) for k, v in params.items() if k not in named)
    return dumps(body)


def request_options(headers: Mapping[str, str], timeout_s: float | None,
                    params: Mapping[str, Any] | None = None) -> Any:
    """The SDK's per-request options: extra headers, a timeout when the call has its own, `extra_headers`."""
    merged = dict(headers)
    extra = (params or {}).get("extra_headers")
    if isinstance(extra, Mapping):
        merged.update({str(k): str(v) for k, v in extra.items()})
    options: dict[str, Any] = {"headers": merged}
    if timeout_s is not None:
        options["timeout"] = timeout_s
    query = (params or {}).get("extra_query")
    if isinstance(query, Mapping):
        options["params"] = dict(query)
    return options


def dumps(value: Any) -> bytes:
    """JSON as the SDKs serialize a body: compact separators, UTF-8 as is, NaN refused."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_default).encode()


def _default(value: Any) -> Any:
    if isinstance(value, datetime.date):  # a YAML date in params
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class ToolsCache:
    """Each tool list in a provider's format, converted once: the config's tuple is the same for every call."""

    def __init__(self) -> None:
        self._seen: tuple[object, list[dict[str, Any]]] | None = None

    def get(self, tools: tuple[Mapping[str, Any], ...],
            convert: Callable[[Mapping[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
        seen = self._seen
        if seen is not None and seen[0] is tools:
            return seen[1]
        converted = [convert(tool) for tool in tools]
        self._seen = (tools, converted)
        return converted
