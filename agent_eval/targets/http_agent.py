"""An agent deployed as a web service: `agent: {http: {url, method, headers, body, output, tool_calls}}`.

`body` is a mapping whose string values are Jinja2 templates rendered with the case, then the
whole is JSON-encoded (so quotes in an input cannot break it); without `body` the AgentInput JSON
is sent. In `url` every value a template inserts is percent-encoded, so case text cannot add a
query parameter or change the path. Header values may name environment variables
(`${AGENT_TOKEN}`): substituted at send time, never written anywhere.

`timeout_s` bounds the whole request (connecting, sending, every read); past it the run is a
timeout. A 429, 502, 503 or 504 is retried with backoff, Retry-After honoured, and is kind
`provider` when retries run out, like an unreachable service. A reply over 16 MiB or nested
deeper than 200, a redirect (never followed, never scored), another non-2xx answer or a reply
without the `output` path is an errored run of kind `target`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import os
import random
import re
import time
from typing import Any
from urllib.parse import quote

import httpx2

from agent_eval.calls.endpoint import RetryPolicy
from agent_eval.calls.tracing import Clock
from agent_eval.errors import ConfigError
from agent_eval.jsonpath import InvalidJsonPath, JsonPath, RegexTimeout
from agent_eval.jsonpath import parse as parse_jsonpath
from agent_eval.providers.base import RetryDecision, RetryKind
from agent_eval.providers.classify import parse_retry_after
from agent_eval.records import RunError
from agent_eval.suite.agent_schema import HttpAgentSpec
from agent_eval.targets.agent_io import (
    JSON_DEPTH_LIMIT,
    STREAM_LIMIT_BYTES,
    AgentResult,
    AgentToolCall,
    agent_input,
    json_depth,
)
from agent_eval.targets.base import TargetResult, TargetRun
from agent_eval.targets.calling import RunMeter
from agent_eval.targets.python_agent import build_result

__all__ = ["HttpTarget", "env_names", "http_request", "render_body", "render_url"]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_RETRIED = frozenset({429, 502, 503, 504})  # the service is busy or its own upstream failed: not the agent's answer
_POLICY = RetryPolicy(max_attempts=4, max_wait_s=120.0)


def env_names(spec: HttpAgentSpec) -> list[str]:
    """The environment variables the headers name (`${AGENT_TOKEN}`)."""
    return [name for value in spec.headers.values() for name in _ENV.findall(value)]


@functools.lru_cache(maxsize=256)
def _template(source: str, url: bool = False) -> Any:
    from jinja2 import StrictUndefined

    from agent_eval.templating import bounded_environment

    finalize = (lambda value: quote(str(value), safe="")) if url else None
    return bounded_environment(undefined=StrictUndefined, autoescape=False, finalize=finalize).from_string(source)


def render_url(source: str, variables: dict[str, Any]) -> str:
    """The URL template rendered with every inserted value percent-encoded (`/` and `?` included)."""
    return _template(source, True).render(**variables) if "{" in source else source


def render_body(value: Any, variables: dict[str, Any]) -> Any:
    """Every string of a YAML mapping rendered with the case; structure and other types kept."""
    if isinstance(value, str):
        return _template(value).render(**variables) if "{" in value else value
    if isinstance(value, dict):
        return {key: render_body(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [render_body(item, variables) for item in value]
    return value


def _variables(run: TargetRun) -> dict[str, Any]:
    inp = agent_input(run)
    last_user = next((m["content"] for m in reversed(inp.messages) if m["role"] == "user"), "")
    text = inp.input if isinstance(inp.input, str) else last_user
    return {**run.case.vars, "input": text, "messages": inp.messages, "case_id": run.case.id,
            "repetition": run.index, "metadata": inp.metadata, "vars": run.case.vars, "session_id": run.session_id}


def http_request(spec: HttpAgentSpec, run: TargetRun, *, secrets: bool = True) -> tuple[str, dict[str, str], bytes]:
    """(url, headers, JSON body) for one run; `secrets=False` leaves `${VAR}` unsubstituted (dry run)."""
    variables = _variables(run)
    url = render_url(spec.url, variables)
    body = render_body(spec.body, variables) if spec.body is not None else agent_input(run).model_dump(mode="json")
    headers = {k: _ENV.sub(lambda m: os.environ.get(m.group(1), ""), v) if secrets else v
               for k, v in spec.headers.items()}
    return url, {"content-type": "application/json", **headers}, json.dumps(body, ensure_ascii=False).encode()


class HttpTarget:
    """POSTs (or PUTs, GETs) each case to the agent's URL and reads the answer by JSONPath."""

    kind = "http"

    def __init__(self, spec: HttpAgentSpec) -> None:
        missing = [name for name in env_names(spec) if name not in os.environ]
        if missing:
            raise ConfigError(f"agent.http.headers name environment variables that are not set: {', '.join(missing)}")
        self.spec = spec
        try:
            self._output = parse_jsonpath(spec.output)
            self._tools = parse_jsonpath(spec.tool_calls) if spec.tool_calls else None
        except InvalidJsonPath as exc:
            raise ConfigError(f"agent.http: invalid JSONPath: {exc}") from None
        self._client = httpx2.AsyncClient(timeout=spec.timeout_s)

    async def run(self, run: TargetRun) -> TargetResult:
        meter = RunMeter(deadline=run.deadline, clock=Clock())
        start = meter.clock.now_ms()
        try:
            url, headers, body = http_request(self.spec, _new_turn(run) if self.spec.session == "stateful" else run)
            request = self._client.build_request(self.spec.method, url, headers=headers,
                                                 content=None if self.spec.method == "GET" else body)
        except Exception as exc:  # a template error, or a URL that is not one: this case cannot be sent
            return _failed(run, "target", f"agent.http: cannot build the request: {type(exc).__name__}: {exc}")
        began = time.perf_counter()
        attempts, waited = 0, 0.0
        rng = random.Random()
        while True:
            attempts += 1
            try:
                async with asyncio.timeout(self.spec.timeout_s):  # the whole exchange, not each read
                    status, reply_headers, data = await self._send(request)
            except TimeoutError:
                return _failed(run, "timeout", f"agent.http: no whole answer within timeout_s={self.spec.timeout_s:g} s"
                               f" ({url})", attempts=attempts)
            except httpx2.HTTPError as exc:
                return _failed(run, "provider", f"agent.http: {type(exc).__name__}: {exc or 'no answer'} ({url})",
                               attempts=attempts)
            if status not in _RETRIED:
                break
            kind = RetryKind.RATE_LIMIT if status == 429 else RetryKind.TRANSIENT
            decision = RetryDecision(kind, f"HTTP {status}", status, parse_retry_after(reply_headers))
            wait = _POLICY.wait_s(attempts, decision, rng)
            late = run.deadline is not None and time.monotonic() + wait > run.deadline
            if attempts >= _POLICY.max_attempts or waited + wait > _POLICY.max_wait_s or late \
                    or (decision.retry_after_s or 0.0) > _POLICY.max_retry_wait_s:
                return _failed(run, "provider", f"agent.http: HTTP {status} from {url} after {attempts} attempt(s)",
                               _shown(data), status=status, attempts=attempts)
            waited += wait
            await asyncio.sleep(wait)
        latency = (time.perf_counter() - began) * 1000.0
        if 300 <= status < 400:
            where = reply_headers.get("location", "nowhere")
            return _failed(run, "target", f"agent.http: HTTP {status} redirect to {where} from {url} (redirects are "
                           "not followed: point agent.http.url at the final address)", _shown(data), status=status)
        if status >= 400 or status < 200:
            return _failed(run, "target", f"agent.http: HTTP {status} from {url}", _shown(data), status=status)
        if data is None:
            return _failed(run, "target", f"agent.http: the reply is larger than {STREAM_LIMIT_BYTES:,} bytes (cut, "
                           "not read)", status=status)
        try:
            document = _document(data)
            result = self._parse(document)
        except ValueError as exc:
            return _failed(run, "target", f"agent.http: {exc}", _shown(data))
        done = build_result(result, run, meter, name=f"invoke_agent {self.spec.method} {url}", start_ms=start,
                            extra={"http.response.status_code": status})
        return dataclasses.replace(done, latency_ms=latency, raw=document, attempts=attempts)

    async def _send(self, request: httpx2.Request) -> tuple[int, httpx2.Headers, bytes | None]:
        """(status, headers, body); the body is None when it is over the size limit."""
        reply = await self._client.send(request, stream=True, follow_redirects=False)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in reply.aiter_bytes():
                size += len(chunk)
                if size > STREAM_LIMIT_BYTES:
                    return reply.status_code, reply.headers, None
                chunks.append(chunk)
            return reply.status_code, reply.headers, b"".join(chunks)
        finally:
            await reply.aclose()

    def _parse(self, document: Any) -> AgentResult:
        found = _select(self._output, document)
        if not found:
            raise ValueError(f"the reply has no value at {self.spec.output}")
        output = found[0] if isinstance(found[0], str) else json.dumps(found[0], ensure_ascii=False)
        calls: list[AgentToolCall] = []
        if self._tools is not None:
            values = _select(self._tools, document)
            items = values[0] if len(values) == 1 and isinstance(values[0], list) else values
            try:
                calls = [AgentToolCall.model_validate(item) for item in items]
            except Exception as exc:
                raise ValueError(f"{self.spec.tool_calls}: expected [{{name, args, result}}]: {exc}") from None
        if isinstance(document, dict) and self.spec.output == "$.output" and self.spec.tool_calls is None:
            try:  # a service answering the AgentResult format gives its transcript and calls too
                return AgentResult.model_validate(document)
            except ValueError:
                pass
        return AgentResult(output=output, tool_calls=calls)


    async def aclose(self) -> None:
        await self._client.aclose()


def _new_turn(run: TargetRun) -> TargetRun:
    """A stateful service's request: only the messages after the last assistant reply (the new turn)."""
    if run.session_id is None:
        return run
    last = max((i for i, m in enumerate(run.messages) if m.role == "assistant"), default=-1)
    return dataclasses.replace(run, messages=run.messages[last + 1:])


def _document(data: bytes) -> Any:
    """The reply's JSON; ValueError when it is not JSON or nests too deeply."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        raise ValueError(f"the reply is not JSON (or nests deeper than {JSON_DEPTH_LIMIT})") from None
    if not json_depth(document):
        raise ValueError(f"the reply nests deeper than {JSON_DEPTH_LIMIT}")
    return document


def _shown(data: bytes | None) -> str | None:
    return None if data is None else data[:4000].decode(errors="replace")


def _failed(run: TargetRun, kind: str, message: str, detail: str | None = None,
            status: int | None = None, attempts: int = 1) -> TargetResult:
    error = RunError(kind=kind, message=message[:500], detail=detail, status=status)  # type: ignore[arg-type]
    return TargetResult(messages=run.messages, error=error, attempts=attempts)


def _select(path: JsonPath, document: Any) -> list[Any]:
    """The values at `path`; a filter's regex that runs out of time makes the reply unreadable (ValueError)."""
    try:
        return path.values(document)
    except RegexTimeout as exc:
        raise ValueError(f"{path.text}: {exc}") from None
