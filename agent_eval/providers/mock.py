"""The offline `mock` provider: regex rules with weighted, templated answers.

Every draw comes from a `random.Random` seeded with a SHA-256 of (seed, case id,
repetition, model), so answers are the same in every process and whatever the
scheduling order. The error draw also counts the attempts for that key, so a
retried call can succeed where the first one failed.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

import regex
from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from agent_eval.errors import ConfigError
from agent_eval.providers.base import Completion, CompletionRequest, RetryDecision
from agent_eval.providers.classify import ErrorContext, classify_other, classify_status
from agent_eval.records import Message, Usage
from agent_eval.suite.schema import MockSpec, ModelSpec

__all__ = [
    "MockProvider",
    "MockProviderError",
    "MockRuleTimeout",
    "MockTemplateError",
    "create",
    "estimate_tokens",
    "hashed_embedding",
    "stable_seed",
]


class MockProviderError(Exception):
    """A simulated HTTP failure (`error_rate`)."""

    def __init__(self, status: int = 500, message: str = "simulated server error") -> None:
        super().__init__(f"{message} (HTTP {status})")
        self.status = status


class MockTemplateError(Exception):
    """An answer template failed to render (e.g. an undefined variable)."""


class MockRuleTimeout(Exception):
    """A rule's `match` pattern backtracked past its time limit on this input."""


_MATCH_LIMIT_S = 1.0  # a rule's pattern runs on the event loop: bounded by the `regex` package


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: Any  # regex.Pattern[str]
    templates: tuple[Template, ...]
    weights: tuple[float, ...]


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from the parts' text; the same in every process (unlike hash())."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def estimate_tokens(text: str) -> int:
    """About four characters per token, at least one."""
    return max(1, len(text) // 4)


class MockProvider:
    """Answers from `ModelSpec.mock` without any network."""

    name = "mock"

    def __init__(self, spec: ModelSpec) -> None:
        self._mock = spec.mock or MockSpec()
        env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        try:
            self._rules = tuple(
                _Rule(
                    pattern=regex.compile(rule.match, regex.VERSION0),
                    templates=tuple(env.from_string(answer.text) for answer in rule.answers),
                    weights=tuple(answer.weight for answer in rule.answers),
                )
                for rule in self._mock.rules
            )
            self._default = env.from_string(self._mock.default)
        except TemplateError as exc:
            raise ConfigError(f"mock model '{spec.name}': an answer template is invalid: {exc}") from None
        self._attempts: Counter[tuple[int, str, int, str]] = Counter()
        self._context = ErrorContext(key_env="(none)", model=spec.name, endpoint="the mock provider")

    async def complete(self, request: CompletionRequest) -> Completion:
        """Pick and render an answer; sleep `latency_ms`; fail at `error_rate`."""
        key = (request.seed, request.case_id, request.repetition, request.model)
        attempt = self._attempts[key]
        self._attempts[key] += 1
        latency_ms = self._mock.latency_ms
        if latency_ms > 0:
            await asyncio.sleep(latency_ms / 1000.0)
        rate = self._mock.error_rate
        if rate > 0 and random.Random(stable_seed("error", *key, attempt)).random() < rate:
            raise MockProviderError(500)
        text = self._answer(_last_user(request.messages), random.Random(stable_seed(*key)))
        prompt = "".join(message.content for message in request.messages)
        return Completion(
            text=text,
            usage=Usage(input_tokens=estimate_tokens(prompt), output_tokens=estimate_tokens(text)),
            latency_ms=latency_ms,
            model=request.model,
            finish_reason="stop",
        )

    def _answer(self, last_user: str, rng: random.Random) -> str:
        for rule in self._rules:
            try:
                found = rule.pattern.search(last_user, timeout=_MATCH_LIMIT_S)
            except TimeoutError:  # not retried: the same input would time out again
                message = f"rule /{rule.pattern.pattern}/ timed out after {_MATCH_LIMIT_S:g} s"
                raise MockRuleTimeout(message) from None
            if found is None:
                continue
            template = rule.templates[_weighted_index(rule.weights, rng)]
            groups = {name: value or "" for name, value in found.groupdict().items()}
            return _render(template, {**groups, "input": last_user})
        return _render(self._default, {"input": last_user})

    def classify(self, exc: BaseException) -> RetryDecision:
        """A simulated HTTP error goes through the shared status policy."""
        if isinstance(exc, MockProviderError):
            return classify_status(exc.status, None, self._context)
        return classify_other(exc, self._context)

    async def embed(self, texts: list[str], model: str) -> list[list[float]]:
        """Hashed bag-of-words vectors: texts sharing words point the same way, offline and stable."""
        return [hashed_embedding(text) for text in texts]

    async def moderate(self, text: str, model: str) -> dict[str, float]:
        """Flagged categories from a tiny word list (enough to test the wiring offline)."""
        words = set(_WORD.findall(text.lower()))
        return {category: 1.0 for category, lexicon in _MODERATION_WORDS.items() if words & lexicon}

    async def aclose(self) -> None:
        return None


_WORD = regex.compile(r"\w+")
_EMBED_DIM = 256
_MODERATION_WORDS = {
    "violence": frozenset({"kill", "attack", "shoot", "stab"}),
    "harassment": frozenset({"idiot", "stupid", "loser"}),
    "self-harm": frozenset({"suicide"}),
}


def hashed_embedding(text: str) -> list[float]:
    """A unit vector: each lower-cased word adds +-1 at a hashed position."""
    vector = [0.0] * _EMBED_DIM
    for word in _WORD.findall(text.lower()):
        h = stable_seed("embed", word)
        vector[h % _EMBED_DIM] += 1.0 if (h >> 32) & 1 else -1.0
    norm = sum(x * x for x in vector) ** 0.5
    return [x / norm for x in vector] if norm else vector


def create(spec: ModelSpec, *, max_connections: int, api_key: str | None, base_url: str | None) -> MockProvider:
    """Registry factory; the mock needs no connections, key or endpoint."""
    del max_connections, api_key, base_url
    return MockProvider(spec)


def _last_user(messages: tuple[Message, ...]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            return message.content
    return ""


def _weighted_index(weights: tuple[float, ...], rng: random.Random) -> int:
    point = rng.random() * sum(weights)
    for index, weight in enumerate(weights):
        point -= weight
        if point < 0:
            return index
    return len(weights) - 1


def _render(template: Template, variables: dict[str, Any]) -> str:
    try:
        return template.render(**variables)
    except TemplateError as exc:
        raise MockTemplateError(f"mock answer template failed: {exc}") from None
