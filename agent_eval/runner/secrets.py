"""The secret values of a run: every model's key and every `${VAR}` the suite and config refer to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent_eval.suite.loader import LoadedConfig, LoadedSuite

__all__ = ["secret_values"]


def secret_values(pairs: Sequence[tuple[LoadedSuite, LoadedConfig | None]], environ: Mapping[str, str]) -> tuple[str, ...]:
    """Values that must never reach a file: the key of every model in use and every `${VAR}` the files refer to.

    Longest first, so a key that contains another is masked whole.
    """
    from agent_eval.providers.registry import key_env
    from agent_eval.suite.inventory import env_references, models_in_use

    names: set[str] = set()
    for suite, config in pairs:
        names.update(v for v in (key_env(use.spec) for use in models_in_use(suite, config)) if v)
        names.update(env_references(suite, config))
    return tuple(sorted({environ[n] for n in names if environ.get(n)}, key=len, reverse=True))
