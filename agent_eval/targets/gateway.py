"""The call layer in the OpenAI and Anthropic wire formats, for Python agents.

`ctx.openai` / `ctx.anthropic` reach it through an in-process httpx transport (no socket);
`ctx.base_url` through a loopback HTTP server on 127.0.0.1, for frameworks that build their own
clients. Each run has a secret path prefix (`/run/<token>`), which ties a call to its run: its
cache key, its limits, its trace.

Chat completions, Responses and Messages requests are forwarded to the config's endpoint as
sent, every field (streaming included), when the provider speaks that format (`openai`: chat
and Responses, `anthropic`: Messages, `mock`: all three); to a provider of the other format they
are translated (messages, tools and sampling parameters only) with a warning. A stream is
relayed once the upstream stream has ended, and recorded as one call.

Model rule: the config's model is called when the request names none, `default` or
`agent-eval`; a request naming another model calls that model, which is recorded, priced as the
model that answered, and warned about on the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx2

from agent_eval.calls.endpoint import CallFailed
from agent_eval.calls.tracing import tool_span
from agent_eval.errors import FatalProviderError
from agent_eval.providers.base import Completion, Wire
from agent_eval.providers.passthrough import aggregate_stream, render, to_sse
from agent_eval.records import Message, Span, ToolCall
from agent_eval.targets.base import TargetRun
from agent_eval.targets.calling import CallRefused, Exchange, ModelCaller, RunMeter
from agent_eval.targets.wire import from_anthropic, from_openai, from_responses

__all__ = ["DEFAULT_MODEL_NAMES", "Gateway", "wire_trajectory"]

DEFAULT_MODEL_NAMES = frozenset({"", "default", "agent-eval"})
_MAX_BODY = 32 * 1024 * 1024
_NATIVE = {"openai": {"chat", "responses"}, "anthropic": {"messages"}, "mock": {"chat", "responses", "messages"}}
_PORTABLE = ("temperature", "top_p", "seed", "max_tokens")  # what a translated request keeps
_FORWARDED_HEADERS = ("anthropic-beta", "openai-beta")
_JSON = "application/json"


@dataclass(slots=True)
class Gateway:
    """Routes wire-format requests of registered runs to the model caller."""

    caller: ModelCaller
    _runs: dict[str, tuple[RunMeter, TargetRun]] = field(default_factory=dict)
    _server: asyncio.Server | None = None
    _port: int = 0
    _serial: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _clients: dict[str, Any] = field(default_factory=dict)
    _connections: set[asyncio.Task[None]] = field(default_factory=set)

    def register(self, meter: RunMeter, run: TargetRun) -> str:
        """A run's token; called on the engine's loop, which every call of the run is then served on."""
        self._loop = self._loop or asyncio.get_running_loop()
        token = secrets.token_urlsafe(12)
        self._runs[token] = (meter, run)
        return token

    def unregister(self, token: str) -> None:
        self._runs.pop(token, None)

    async def base_urls(self, token: str) -> tuple[str, str]:
        """(OpenAI-style base URL, Anthropic-style base URL) of a run on the loopback server."""
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
            self._port = self._server.sockets[0].getsockname()[1]
        root = f"http://127.0.0.1:{self._port}/run/{token}"
        return f"{root}/v1", root

    def client(self, kind: str, base_url: str, anthropic_base_url: str) -> Any:
        """An official async SDK client for one run; every run's client shares one connection-less transport."""
        shared = self._clients.get(kind)
        if shared is None:
            assert self._loop is not None  # set by register()
            transport = _Transport(self, self._loop)
            if kind == "openai":
                import openai

                shared = openai.AsyncOpenAI(api_key="agent-eval", base_url=base_url, max_retries=0,
                                            http_client=openai.DefaultAsyncHttpxClient(transport=transport))
            else:
                import anthropic

                shared = anthropic.AsyncAnthropic(api_key="agent-eval", base_url=anthropic_base_url, max_retries=0,
                                                  http_client=anthropic.DefaultAsyncHttpxClient(transport=transport))
            self._clients[kind] = shared
        return shared.copy(base_url=base_url if kind == "openai" else anthropic_base_url)

    async def handle(self, method: str, path: str, body: bytes,
                     headers: Mapping[str, str] | None = None) -> tuple[int, str, bytes]:
        """Answer one request below `/run/<token>`: (status, content type, body)."""
        headers = headers or {}
        route = path.split("?", 1)[0].rstrip("/")
        parts = route.strip("/").split("/")
        entry = self._runs.get(parts[1]) if len(parts) > 2 and parts[0] == "run" else None
        api = _api_of(route)
        anthropic = api == "messages" or "anthropic-version" in headers
        if entry is None or api is None:
            return _error(404, anthropic, "no such run or route (the run may have finished); served: "
                          "POST /v1/chat/completions, /v1/responses, /v1/messages, GET /v1/models", "not_found_error")
        if api == "models":
            return 200, _JSON, json.dumps(_models(self.caller.model, anthropic)).encode()
        if method != "POST":
            return _error(405, anthropic, f"{method} is not served here; use POST")
        meter, run = entry
        try:
            payload = json.loads(body or b"{}")
            if not isinstance(payload, dict):
                raise ValueError("the body is not a JSON object")  # noqa: TRY004 (answered as a 400)
            messages = _messages(api, payload)
        except (ValueError, RecursionError) as exc:
            return _error(400, anthropic, f"agent-eval: {exc}", "invalid_request_error")
        model = self._model(payload.get("model"), meter)
        wire = Wire(api=api, body={**payload, "model": model},
                    headers=tuple((k, v) for k, v in headers.items() if k in _FORWARDED_HEADERS))
        native = api in _NATIVE.get(self.caller.provider_name, set())
        if not native:
            _warn(meter, f"the agent's {_API_NAMES[api]} requests are translated for the {self.caller.provider_name} "
                         "provider: only messages, function tools and sampling parameters are sent")
        request = replace(self.caller.request(run.case.id, run.index, messages, tools=_tools(payload), model=model,
                                              params=_portable(payload)), wire=wire)
        start = meter.clock.now_ms()
        try:
            completion = await self.caller.complete(request, meter)
        except CallRefused as exc:
            return _error(400, anthropic, f"agent-eval refused the call: {exc}", "invalid_request_error")
        except CallFailed as exc:
            status = exc.decision.status if exc.decision.status and exc.decision.status >= 400 else 502
            return _error(status, anthropic, f"agent-eval: {exc.decision.message}", "api_error")
        except FatalProviderError as exc:
            return _error(502, anthropic, f"agent-eval: {exc}", "api_error")
        meter.exchanges.append(Exchange(request, completion, start, meter.clock.now_ms()))
        return self._reply(wire, completion)

    def _model(self, asked: Any, meter: RunMeter) -> str:
        """The model rule: the config's unless the request names another (then recorded and warned about)."""
        if not isinstance(asked, str) or asked.strip() in DEFAULT_MODEL_NAMES:
            return self.caller.model
        if asked != self.caller.model:
            _warn(meter, f"the agent called model '{asked}', not the config's '{self.caller.model}': recorded and "
                         "priced as the model called")
        return asked

    def _reply(self, wire: Wire, completion: Completion) -> tuple[int, str, bytes]:
        raw = completion.raw
        if raw is None:  # translated from another provider's format
            self._serial += 1
            raw = render(wire.api, [completion], f"agent-eval-{self._serial}")
        if wire.stream:
            text = raw if isinstance(raw, str) else to_sse(wire.api, raw, wire.body)
            return 200, "text/event-stream; charset=utf-8", text.encode()
        if isinstance(raw, str):
            raw = aggregate_stream(wire.api, raw)
        return 200, _JSON, json.dumps(raw).encode()

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
        if self._server is not None:
            self._server.close()
            self._server = None
        # keep-alive connections an agent left open: end them here, not as cancelled tasks at loop exit
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=2.0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            pass  # the gateway is closing; the agent's client sees the connection end
        finally:
            self._connections.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A minimal HTTP/1.1 server: Content-Length or chunked bodies, keep-alive."""
        with contextlib.suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError,
                                 ValueError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = (lines[0].split(" ") + ["", ""])[:3]
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    body = await _read_chunked(reader)
                else:
                    length = int(headers.get("content-length", "0"))
                    if length > _MAX_BODY:
                        break
                    body = await reader.readexactly(length) if length else b""
                status, content_type, data = await self.handle(method, path, body, headers)
                close = headers.get("connection", "").lower() == "close"
                writer.write(f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
                             f"content-type: {content_type}\r\ncontent-length: {len(data)}\r\n"
                             f"connection: {'close' if close else 'keep-alive'}\r\n\r\n".encode() + data)
                await writer.drain()
                if close:
                    break


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
        total += size
        if total > _MAX_BODY:
            raise ValueError("request body too large")
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


_API_NAMES = {"chat": "chat-completions", "responses": "Responses", "messages": "Messages"}


def _api_of(route: str) -> str | None:
    if route.endswith("/chat/completions"):
        return "chat"
    if route.endswith("/responses"):
        return "responses"
    if route.endswith("/messages"):
        return "messages"
    if route.endswith("/models"):
        return "models"
    return None


def _messages(api: str, payload: Mapping[str, Any]) -> tuple[Message, ...]:
    if api == "chat":
        return from_openai(payload.get("messages") or [])
    if api == "responses":
        return from_responses(payload.get("instructions"), payload.get("input") or [])
    return from_anthropic(payload.get("system"), payload.get("messages") or [])


def _tools(payload: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    """Function tools in any format (hosted tools have no portable form)."""
    from agent_eval.tooldefs import tool_parts

    out = []
    for tool in payload.get("tools") or ():
        with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
            tool_parts(tool)
            out.append(tool)
    return tuple(out)


def _portable(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters a request keeps when translated to another provider's format."""
    params = {k: payload[k] for k in _PORTABLE if payload.get(k) is not None}
    for alias in ("max_completion_tokens", "max_output_tokens"):
        if payload.get(alias) is not None:
            params.setdefault("max_tokens", payload[alias])
    stop = payload.get("stop", payload.get("stop_sequences"))
    if stop:
        params["stop"] = stop
    return params


def _models(model: str, anthropic: bool) -> dict[str, Any]:
    if anthropic:
        return {"data": [{"type": "model", "id": model, "display_name": model, "created_at": "2025-01-01T00:00:00Z"}],
                "has_more": False, "first_id": model, "last_id": model}
    return {"object": "list", "data": [{"id": model, "object": "model", "created": 0, "owned_by": "agent-eval"}]}


def _warn(meter: RunMeter, warning: str) -> None:
    if warning not in meter.warnings:
        meter.warnings.append(warning)


def _error(status: int, anthropic: bool, message: str, kind: str = "invalid_request_error") -> tuple[int, str, bytes]:
    if anthropic:
        body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    else:
        body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return status, _JSON, json.dumps(body).encode()


def wire_trajectory(exchanges: Sequence[Exchange], reported: tuple[ToolCall, ...], end_ms: float,
                    stamps: Sequence[tuple[float | None, float | None]] = ()) -> tuple[
                        tuple[ToolCall, ...], list[Span], str | None]:
    """The run's tool calls, their spans, and a warning when the agent's report and the wire disagree.

    Seen on the wire: each call the model asked for (its first choice) and the result the agent sent
    back for it in a later request. The agent's own report wins; with none, the wire's calls are the
    trajectory. A tool span runs from the reply that asked for it to the request that carried its result;
    `stamps` (start ms on the run's clock, duration ms) of reported calls, when the agent gave them, win;
    a reported call with neither is stamped at `end_ms`.
    """
    asked: dict[str, tuple[ToolCall, float]] = {}
    results: dict[str, tuple[str, float]] = {}
    for exchange in exchanges:
        for message in exchange.request.messages:
            if message.role == "tool" and message.tool_call_id:
                results.setdefault(message.tool_call_id, (message.content, exchange.start_ms))
        for n, call in enumerate(exchange.completion.tool_calls):
            asked.setdefault(call.id or f"#{len(asked)}.{n}", (call, exchange.end_ms))
    seen = [call.model_copy(update={"result": results[key][0]}) if key in results else call
            for key, (call, _) in asked.items()]
    timing = {key: (at, results[key][1] - at if key in results else None) for key, (_, at) in asked.items()}
    unmatched = list(asked)
    warning = None
    if reported and seen and Counter(c.name for c in reported) != Counter(c.name for c in seen):
        warning = (f"the agent reported tool calls ({', '.join(c.name for c in reported)}) that differ from those "
                   f"the model asked for through agent-eval ({', '.join(c.name for c in seen)})")
    calls = reported or tuple(seen)
    spans = []
    for n, call in enumerate(calls):  # a reported call takes the time of the wire call with its id, else of its name
        key = call.id if call.id in unmatched else next((k for k in unmatched if asked[k][0].name == call.name), "")
        if key:
            unmatched.remove(key)
        start, duration = timing.get(key, (end_ms, None))
        if reported and n < len(stamps):
            given_start, given_duration = stamps[n]
            start = given_start if given_start is not None else start
            duration = given_duration if given_duration is not None else duration
        spans.append(tool_span(call.name, call.parsed_arguments(), call.result, start_ms=start, duration_ms=duration,
                               error=call.error, call_id=call.id))
    return calls, spans, warning


class _Transport(httpx2.AsyncBaseTransport):
    """An httpx transport answering from the gateway; hops to the engine's loop when called from another."""

    def __init__(self, gateway: Gateway, loop: asyncio.AbstractEventLoop) -> None:
        self._gateway = gateway
        self._loop = loop

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        path = request.url.raw_path.decode("ascii")
        headers = {k.lower(): v for k, v in request.headers.items()}
        work = self._gateway.handle(request.method, path, body, headers)
        if asyncio.get_running_loop() is self._loop:
            status, content_type, data = await work
        else:  # a sync agent running its own event loop in a worker thread
            status, content_type, data = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))
        return httpx2.Response(status, content=data, headers={"content-type": content_type}, request=request)
