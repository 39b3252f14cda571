"""The call layer in the OpenAI and Anthropic wire formats, for Python agents.

`ctx.openai` / `ctx.anthropic` reach it through an in-process httpx transport (no socket);
`ctx.base_url` through a loopback HTTP server on 127.0.0.1, for frameworks that build their own
clients. Each run has a secret path prefix (`/run/<token>`), which ties a call to its run: its
cache ordinal, its limits, its trace. Whatever format the agent speaks, the call goes to the
config's model endpoint. Streaming is not offered: a `stream: true` request gets a 400.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2

from agent_eval.calls.endpoint import CallFailed
from agent_eval.errors import FatalProviderError
from agent_eval.targets.base import TargetRun
from agent_eval.targets.calling import CallRefused, ModelCaller, RunMeter
from agent_eval.targets.wire import anthropic_response, from_anthropic, from_openai, openai_response

__all__ = ["Gateway"]

_RESERVED = {"model", "messages", "tools", "system", "stream", "tool_choice", "stream_options"}
_MAX_BODY = 32 * 1024 * 1024


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
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
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

    async def handle(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """Answer one request to `/run/<token>/v1/chat/completions` or `/run/<token>/v1/messages`."""
        parts = path.split("?", 1)[0].strip("/").split("/")
        entry = self._runs.get(parts[1]) if len(parts) > 2 and parts[0] == "run" else None
        anthropic = path.split("?", 1)[0].endswith("/messages")
        if entry is None or not (anthropic or path.split("?", 1)[0].endswith("/chat/completions")):
            return 404, _error(anthropic, "no such run or route (the run may have finished)", "not_found_error")
        meter, run = entry
        try:
            payload = json.loads(body or b"{}")
            if not isinstance(payload, Mapping):
                raise ValueError("the body is not a JSON object")  # noqa: TRY004 (answered as a 400)
            if payload.get("stream"):
                raise ValueError("streaming is not supported through agent-eval's call layer; set stream=False")
            messages = (from_anthropic(payload.get("system"), payload.get("messages") or []) if anthropic
                        else from_openai(payload.get("messages") or []))
        except ValueError as exc:
            return 400, _error(anthropic, f"agent-eval: {exc}", "invalid_request_error")
        params = {k: v for k, v in payload.items() if k not in _RESERVED}
        request = self.caller.request(run.case.id, run.index, messages, tools=payload.get("tools") or (),
                                      model=payload.get("model") or None, params=params)
        try:
            completion = await self.caller.complete(request, meter)
        except CallRefused as exc:
            return 400, _error(anthropic, f"agent-eval refused the call: {exc}", "invalid_request_error")
        except CallFailed as exc:
            status = exc.decision.status if exc.decision.status and exc.decision.status >= 400 else 502
            return status, _error(anthropic, f"agent-eval: {exc.decision.message}", "api_error")
        except FatalProviderError as exc:
            return 502, _error(anthropic, f"agent-eval: {exc}", "api_error")
        self._serial += 1
        return 200, (anthropic_response if anthropic else openai_response)(completion, self._serial)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A minimal HTTP/1.1 server: Content-Length bodies, keep-alive, JSON answers."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = (lines[0].split(" ") + ["", ""])[:3]
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                length = int(headers.get("content-length", "0"))
                if length > _MAX_BODY:
                    break
                body = await reader.readexactly(length) if length else b""
                status, answer = await self.handle(path, body) if method == "POST" else (405, _error(False, "POST"))
                data = json.dumps(answer).encode()
                close = headers.get("connection", "").lower() == "close"
                writer.write(f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
                             f"content-type: application/json\r\ncontent-length: {len(data)}\r\n"
                             f"connection: {'close' if close else 'keep-alive'}\r\n\r\n".encode() + data)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


def _error(anthropic: bool, message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    if anthropic:
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class _Transport(httpx2.AsyncBaseTransport):
    """An httpx transport answering from the gateway; hops to the engine's loop when called from another."""

    def __init__(self, gateway: Gateway, loop: asyncio.AbstractEventLoop) -> None:
        self._gateway = gateway
        self._loop = loop

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        path = request.url.raw_path.decode("ascii")
        work = self._gateway.handle(path, body)
        if asyncio.get_running_loop() is self._loop:
            status, answer = await work
        else:  # a sync agent running its own event loop in a worker thread
            status, answer = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))
        return httpx2.Response(status, json=answer, request=request)
