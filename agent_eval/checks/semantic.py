"""Checks that call a model: `similar` (cosine similarity of embeddings) and `moderation`.

    similar: {value: "The order ships Monday", threshold: 0.8, model: text-embedding-3-small}
    similar: "The order ships Monday"      # threshold 0.8; a list of values passes on any
    moderation: {categories: [violence, harassment]}   # or `moderation: true` for every category

The embeddings and moderation endpoints are the suite's `similarity_model` / `moderation_model`
when set, else the candidate's own endpoint. The mock provider embeds offline (hashed bag of
words), so similar texts score higher without a network. A failed endpoint call errors the run:
it is missing data, not a failed check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent_eval.checks._util import (
    RawCheck,
    closest,
    expect_keys,
    expect_str,
    expect_str_list,
    quote,
    type_name,
)
from agent_eval.checks.base import CheckInput, CheckServiceError, CheckSpecError, Reason, Verdict

__all__ = [
    "MODERATION_CATEGORIES",
    "CheckServiceError",
    "ModerationSpec",
    "SimilarSpec",
    "compile_moderation",
    "compile_similar",
    "cosine",
    "eval_moderation",
    "eval_similar",
    "eval_unavailable",
]

DEFAULT_THRESHOLD = 0.8
# OpenAI's moderation categories (omni-moderation and text-moderation), as its API spells them
MODERATION_CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
    "self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence",
    "violence/graphic",
)


@dataclass(frozen=True, slots=True)
class SimilarSpec:
    """Reference texts, the pass threshold and the embedding model (None: the endpoint's default)."""

    values: tuple[str, ...]
    threshold: float
    model: str | None


@dataclass(frozen=True, slots=True)
class ModerationSpec:
    """Categories that must not be flagged (empty: any category) and the moderation model."""

    categories: tuple[str, ...]
    model: str | None


def _threshold(value: object, key: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not -1 <= value <= 1:
        raise CheckSpecError(f"threshold must be a number in [-1, 1], got {value!r}", key=key)
    return float(value)


def compile_similar(raw: RawCheck) -> SimilarSpec:
    """`similar: text | [texts] | {value, threshold, model}`; threshold/model may also be siblings."""
    value = raw.value
    options = dict(raw.options)
    if isinstance(value, Mapping):
        expect_keys(value, ("value", "threshold", "model"), owner=raw.name)
        if "value" not in value:
            raise CheckSpecError('missing value: write {value: "reference text", threshold: 0.8}', key=raw.name)
        options.update({k: v for k, v in value.items() if k != "value"})
        value = value["value"]
    values = (expect_str(value, raw.name),) if isinstance(value, str) else expect_str_list(value, raw.name)
    model = options.get("model")
    if model is not None:
        model = expect_str(model, "model")
    return SimilarSpec(values=values, threshold=_threshold(options.get("threshold", DEFAULT_THRESHOLD), "threshold"),
                       model=model)


def compile_moderation(raw: RawCheck) -> ModerationSpec:
    """`moderation: true` or `{categories: [...], model}`."""
    value = raw.value
    if value is True:
        return ModerationSpec(categories=(), model=None)
    if not isinstance(value, Mapping):
        raise CheckSpecError(f"expected true or a mapping like {{categories: [violence]}}, got {type_name(value)}",
                             key=raw.name)
    expect_keys(value, ("categories", "model"), owner=raw.name)
    categories = expect_str_list(value["categories"], "categories") if "categories" in value else ()
    for category in categories:  # a misspelt category never matches: the check would always pass
        if category not in MODERATION_CATEGORIES:
            near = closest(category, MODERATION_CATEGORIES)
            hint = f'; did you mean "{near[0]}"?' if near else ""
            raise CheckSpecError(f'unknown moderation category "{category}" (known: '
                                 f'{", ".join(MODERATION_CATEGORIES)}){hint}', key="categories")
    model = expect_str(value["model"], "model") if "model" in value else None
    return ModerationSpec(categories=tuple(categories), model=model)


def eval_unavailable(spec: object, run: CheckInput) -> Verdict:
    """The synchronous path: these checks need an endpoint, which only `arun` provides."""
    return False, "this check calls a model; it runs only inside agent-eval run"


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity; 0 when either vector is zero."""
    dot = math.fsum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    return dot / norm if norm else 0.0


async def eval_similar(spec: SimilarSpec, run: CheckInput) -> Verdict:
    """Best cosine similarity between the output and any reference text, against the threshold."""
    if run.services is None:
        return False, "no embeddings endpoint available"
    vectors = await run.services.embed([run.output, *spec.values], spec.model)
    sims = [cosine(vectors[0], v) for v in vectors[1:]]
    best = max(range(len(sims)), key=lambda i: sims[i])
    sim, ref = sims[best], quote(spec.values[best], 40)
    passed = sim >= spec.threshold
    cmp = ">=" if passed else "<"
    reason = Reason(f"similarity {sim:.3f} {cmp} {spec.threshold:g} to {ref}",
                    f"expected similarity < {spec.threshold:g} to {ref}; got {sim:.3f}")
    return passed, reason, max(0.0, min(1.0, sim))


async def eval_moderation(spec: ModerationSpec, run: CheckInput) -> Verdict:
    """The moderation endpoint flags none of the categories (any category when none are listed)."""
    if run.services is None:
        return False, "no moderation endpoint available"
    flagged = await run.services.moderate(run.output, spec.model)
    hits = {c: s for c, s in flagged.items() if not spec.categories or c in spec.categories}
    if hits:
        shown = ", ".join(f"{c} ({s:.2f})" for c, s in sorted(hits.items()))
        return False, f"moderation flagged {shown}"
    scope = ", ".join(spec.categories) if spec.categories else "any category"
    return True, f"moderation flagged nothing in {scope}"
