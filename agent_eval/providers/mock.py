"""The offline `mock` provider: regex rules with weighted, templated answers (text and/or tool calls).

A rule matches the last message of its `role` (the user's by default; `tool` for the last tool
result), so a tool loop runs offline: one rule asks for a lookup, another answers from its result.

Every draw comes from a `random.Random` seeded with a SHA-256 of (seed, case id,
repetition, model), so answers are the same in every process and whatever the
scheduling order. The error draw also counts the attempts for that key, so a
retried call can succeed where the first one failed.

An agent's request through the gateway is answered in its own wire format (chat completions
with `n` choices, Responses, Messages), obeying its `tool_choice`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import regex
from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from agent_eval.errors import ConfigError
from agent_eval.modelspec import MockSpec, ModelSpec
from agent_eval.providers.base import Completion, CompletionRequest, RetryDecision
from agent_eval.providers.classify import ErrorContext, classify_other, classify_status
from agent_eval.providers.passthrough import render
from agent_eval.records import Message, ToolCall, Usage
from agent_eval.templating import bounded_environment

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
class _Answer:
    text: Template
    tool_calls: tuple[tuple[str, Any], ...]  # (name, arguments with every string compiled to a Template)


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: Any  # regex.Pattern[str]
    role: str
    answers: tuple[_Answer, ...]
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
        env = bounded_environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        try:
            self._rules = tuple(
                _Rule(
                    pattern=regex.compile(rule.match, regex.VERSION0),
                    role=rule.role,
                    answers=tuple(
                        _Answer(env.from_string(answer.text),
                                tuple((c.name, _compile(env, c.arguments)) for c in answer.tool_calls))
                        for answer in rule.answers
                    ),
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
        choices = [self._choice(request, random.Random(stable_seed(*key, *((i,) if i else ()))), latency_ms)
                   for i in range(_choice_count(request))]
        if request.wire is None:
            return choices[0]
        raw = render(request.wire.api, choices, f"mock{stable_seed(*key, len(request.messages)) % 10**12}")
        return replace(choices[0], raw=raw)

    def _choice(self, request: CompletionRequest, rng: random.Random, latency_ms: float) -> Completion:
        text, calls = self._answer(request.messages, rng)
        if request.wire is not None:
            calls = _obey_tool_choice(request.wire.api, request.wire.body, calls)
        prompt = "".join(message.content for message in request.messages)
        turn = sum(1 for message in request.messages if message.role == "assistant")
        tool_calls = tuple(
            ToolCall(id=f"call_{turn}_{i}", name=name, arguments=json.dumps(arguments))
            for i, (name, arguments) in enumerate(calls)
        )
        written = text + "".join(call.name + call.arguments for call in tool_calls)
        return Completion(
            text=text,
            usage=Usage(input_tokens=estimate_tokens(prompt), output_tokens=estimate_tokens(written)),
            latency_ms=latency_ms,
            model=request.model,
            tool_calls=tool_calls,
            finish_reason="tool_calls" if tool_calls else "stop",
        )

    def _answer(self, messages: tuple[Message, ...], rng: random.Random) -> tuple[str, list[tuple[str, Any]]]:
        last = {role: _last_of(messages, role) for role in ("user", "assistant", "tool", "system")}
        for rule in self._rules:
            subject = last[rule.role]
            if subject is None:
                continue
            try:
                found = rule.pattern.search(subject, timeout=_MATCH_LIMIT_S)
            except TimeoutError:  # not retried: the same input would time out again
                message = f"rule /{rule.pattern.pattern}/ timed out after {_MATCH_LIMIT_S:g} s"
                raise MockRuleTimeout(message) from None
            if found is None:
                continue
            answer = rule.answers[_weighted_index(rule.weights, rng)]
            groups = {name: value or "" for name, value in found.groupdict().items()}
            variables = {**groups, "input": last["user"] or "", "message": subject}
            calls = [(name, _render_value(arguments, variables)) for name, arguments in answer.tool_calls]
            return _render(answer.text, variables), calls
        return _render(self._default, {"input": last["user"] or "", "message": last["user"] or ""}), []

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


def _last_of(messages: tuple[Message, ...], role: str) -> str | None:
    """The content of the last message of `role`; None when there is none (the rule cannot match).

    For `tool`, the results of the last batch of (parallel) calls, one per line, in the current turn
    (after the last user message: an earlier turn's result does not answer a new question).
    """
    for end in range(len(messages) - 1, -1, -1):
        if role == "tool" and messages[end].role == "user":
            return None
        if messages[end].role != role:
            continue
        if role != "tool":  # images and documents read as their labels: a rule can see what was attached
            return "\n".join([messages[end].content, *(part.label for part in messages[end].parts)])
        start = end
        while start > 0 and messages[start - 1].role == "tool":
            start -= 1
        return "\n".join(message.content for message in messages[start:end + 1])
    return "" if role == "user" else None


def _choice_count(request: CompletionRequest) -> int:
    n = request.wire.body.get("n") if request.wire is not None and request.wire.api == "chat" else None
    return max(1, min(n, 16)) if isinstance(n, int) else 1


def _tool_names(api: str, body: Any) -> list[str]:
    names = []
    for tool in body.get("tools") or ():
        if isinstance(tool, dict):
            function = tool.get("function") if api == "chat" else tool
            if isinstance(function, dict) and function.get("name"):
                names.append(str(function["name"]))
    return names


def _obey_tool_choice(api: str, body: Any, calls: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Calls as the request's `tool_choice` allows: none drops them, a forced tool is called (with {})."""
    choice = body.get("tool_choice")
    if choice is None or choice == "auto":
        return calls
    kind = choice.get("type") if isinstance(choice, dict) else choice
    if kind == "none":
        return []
    names = _tool_names(api, body)
    forced = None
    if isinstance(choice, dict) and kind in ("function", "tool", "custom"):
        forced = (choice.get("function") or {}).get("name") if api == "chat" else choice.get("name")
    elif kind in ("required", "any") and names and not calls:
        forced = names[0]
    if forced is None or any(name == forced for name, _ in calls):
        return calls
    return [(forced, {})]


def _compile(env: SandboxedEnvironment, value: Any) -> Any:
    if isinstance(value, str):
        return env.from_string(value)
    if isinstance(value, dict):
        return {key: _compile(env, item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_compile(env, item) for item in value]
    return value


def _render_value(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, Template):
        return _render(value, variables)
    if isinstance(value, dict):
        return {key: _render_value(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_value(item, variables) for item in value]
    return value


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
    except (TemplateError, OverflowError) as exc:  # OverflowError: over the time or size bound of a render
        raise MockTemplateError(f"mock answer template failed: {exc}") from None
