"""An agent deployed as a web service: `agent: {http: {url, method, headers, body, output, tool_calls}}`.

`body` is a mapping whose string values are Jinja2 templates rendered with the case, then the
whole is JSON-encoded (so quotes in an input cannot break it); without `body` the AgentInput JSON
is sent. Header values may name environment variables (`${AGENT_TOKEN}`): substituted at send
time, never written anywhere. A non-2xx answer or a reply without the `output` path is an
errored run of kind `target`; a connection failure or timeout is kind `provider`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import time
from typing import Any

import httpx2

from agent_eval.calls.tracing import Clock
from agent_eval.errors import ConfigError
from agent_eval.jsonpath import InvalidJsonPath, JsonPath, RegexTimeout
from agent_eval.jsonpath import parse as parse_jsonpath
from agent_eval.records import RunError
from agent_eval.suite.agent_schema import HttpAgentSpec
from agent_eval.targets.agent_io import AgentResult, AgentToolCall, agent_input
from agent_eval.targets.base import TargetResult, TargetRun
from agent_eval.targets.calling import RunMeter
from agent_eval.targets.python_agent import build_result

__all__ = ["HttpTarget", "env_names", "http_request", "render_body"]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def env_names(spec: HttpAgentSpec) -> list[str]:
    """The environment variables the headers name (`${AGENT_TOKEN}`)."""
    return [name for value in spec.headers.values() for name in _ENV.findall(value)]


@functools.lru_cache(maxsize=256)
def _template(source: str) -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False).from_string(source)


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
    url = render_body(spec.url, variables)
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
        except Exception as exc:  # a template error in url/body: this case cannot be sent
            return _failed(run, "target", f"agent.http: cannot render the request: {exc}")
        began = time.perf_counter()
        try:
            content = None if self.spec.method == "GET" else body
            reply = await self._client.request(self.spec.method, url, headers=headers, content=content)
        except httpx2.HTTPError as exc:
            return _failed(run, "provider", f"agent.http: {type(exc).__name__}: {exc or 'no answer'} ({url})")
        latency = (time.perf_counter() - began) * 1000.0
        if reply.status_code >= 400:
            return _failed(run, "target", f"agent.http: HTTP {reply.status_code} from {url}", reply.text[:4000],
                           status=reply.status_code)
        try:
            result = self._parse(reply)
        except ValueError as exc:
            return _failed(run, "target", f"agent.http: {exc}", reply.text[:4000])
        done = build_result(result, run, meter, name=f"invoke_agent {self.spec.method} {url}", start_ms=start,
                            extra={"http.response.status_code": reply.status_code})
        return dataclasses.replace(done, latency_ms=latency, raw=_json_or_none(reply))

    def _parse(self, reply: httpx2.Response) -> AgentResult:
        try:
            document = reply.json()
        except ValueError:
            raise ValueError("the reply is not JSON") from None
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


def _json_or_none(reply: httpx2.Response) -> Any:
    try:
        return reply.json()
    except ValueError:
        return None


def _failed(run: TargetRun, kind: str, message: str, detail: str | None = None,
            status: int | None = None) -> TargetResult:
    error = RunError(kind=kind, message=message[:500], detail=detail, status=status)  # type: ignore[arg-type]
    return TargetResult(messages=run.messages, error=error)


def _select(path: JsonPath, document: Any) -> list[Any]:
    """The values at `path`; a filter's regex that runs out of time makes the reply unreadable (ValueError)."""
    try:
        return path.values(document)
    except RegexTimeout as exc:
        raise ValueError(f"{path.text}: {exc}") from None
