"""Every model a run of a suite with a config may call, and every `${VAR}` its files refer to.

The one list behind credential checks, alias warnings, secret masking and the dry run: the candidate,
every judge (case, rubric and turn rubric judges, and their ensembles), simulated users, and the suite's
similarity and moderation endpoints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from agent_eval.modelspec import ModelSpec
    from agent_eval.suite.loader import LoadedConfig, LoadedSuite

__all__ = ["ModelRole", "ModelUse", "env_references", "models_in_use"]

ModelRole = Literal["candidate", "judge", "simulated user", "similarity", "moderation"]

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class ModelUse:
    """One model endpoint a run may call, in one role, and the file that names it."""

    role: ModelRole
    spec: ModelSpec
    source: Path


def models_in_use(suite: LoadedSuite, config: LoadedConfig | None) -> tuple[ModelUse, ...]:
    """Each (role, model endpoint) once, the candidate first; `config` None lists the suite's own models."""
    uses: list[ModelUse] = []
    if config is not None:
        uses.append(ModelUse("candidate", config.spec.model, config.path))
    for case in suite.cases:
        judges = [case.judge, *(r.judge for r in case.all_rubrics)]
        for judge in judges:
            if judge is None:
                continue
            uses.append(ModelUse("judge", judge, suite.path))
            uses.extend(ModelUse("judge", member, suite.path) for member in judge.ensemble)
        if case.simulated_user is not None:
            uses.append(ModelUse("simulated user", case.simulated_user.model, suite.path))
    if suite.spec.similarity_model is not None:
        uses.append(ModelUse("similarity", suite.spec.similarity_model, suite.path))
    if suite.spec.moderation_model is not None:
        uses.append(ModelUse("moderation", suite.spec.moderation_model, suite.path))
    seen: set[tuple[str, str]] = set()
    unique: list[ModelUse] = []
    for use in uses:
        key = (use.role, use.spec.model_dump_json())
        if key not in seen:
            seen.add(key)
            unique.append(use)
    return tuple(unique)


def env_references(suite: LoadedSuite, config: LoadedConfig | None) -> frozenset[str]:
    """Names of the `${VAR}` references in the suite and config files (header values, agent settings)."""
    names: set[str] = set()
    for path in (suite.path, config.path if config is not None else None):
        if path is None:
            continue
        try:
            names.update(_ENV_REFERENCE.findall(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            continue
    return frozenset(names)
