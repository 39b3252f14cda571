"""Route sampling parameters: the SDK's named arguments as keywords, everything else in the body.

SDKs drop named arguments across versions (anthropic 2.x has no `temperature` keyword) and
OpenAI-compatible servers accept extras (`top_k`, `repetition_penalty`); both still reach the API.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

__all__ = ["split_params"]


@lru_cache(maxsize=8)
def _named(method: Callable[..., Any]) -> frozenset[str]:
    parameters = inspect.signature(method).parameters
    return frozenset(name for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY
                     or p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD)


def split_params(method: Callable[..., Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for `method`: known names as they are, unknown ones under `extra_body`."""
    named = _named(method)
    kwargs = {k: v for k, v in params.items() if k in named}
    extra = {k: v for k, v in params.items() if k not in named}
    if extra:
        kwargs["extra_body"] = {**kwargs.get("extra_body", {}), **extra}
    return kwargs
