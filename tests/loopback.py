"""A real HTTP/1.1 server on 127.0.0.1 that speaks the OpenAI and Anthropic wire formats.

Tests run it in a background thread (`with LoopbackServer(...) as server:`); benchmarks
run it as a process (`python tests/loopback.py --port 0 --latency-ms 50`), which prints
the OpenAI base URL on its first line and the Anthropic base URL on its second, serves
until SIGTERM/SIGINT, then prints its stats as JSON on stderr.

Routes: POST /v1/chat/completions, /v1/responses, /v1/messages (all with `stream: true` as SSE),
GET /v1/models, POST /v1/embeddings and /v1/moderations (hashed bag of words, a tiny word list); and, to steer a server in another process, GET /_loopback/stats,
POST /_loopback/reset, POST /_loopback/config (a JSON object of LoopbackConfig fields)
and POST /_loopback/faults (a JSON list of fault specs such as ["429:1", "500", "hang", "html"]).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loopback_faults import BROKEN_200, Fault, Outcome, Policy, parse_fault, rate_key
from loopback_http import (
    MAX_HEAD,
    HttpRequest,
    LoggedRequest,
    RequestLog,
    read_request,
    send_body,
    send_json,
    send_stream,
)
from loopback_wire import (
    Reply,
    Rule,
    anthropic_error,
    anthropic_message,
    anthropic_models,
    anthropic_stream,
    last_user_text,
    openai_completion,
    openai_embeddings,
    openai_error,
    openai_models,
    openai_moderation,
    openai_response,
    openai_response_stream,
    openai_stream,
    responses_as_chat,
    rule_responder,
)

__all__ = [
    "Fault",
    "LoggedRequest",
    "LoopbackConfig",
    "LoopbackServer",
    "Reply",
    "RequestLog",
    "Rule",
    "parse_fault",
    "rule_responder",
]

Responder = Callable[[dict[str, Any]], "str | Reply"]


@dataclass(slots=True)
class LoopbackConfig:
    """Behaviour of the server; every field may be changed while it runs (`configure`)."""

    latency_ms: float = 0.0  # before every successful answer
    jitter_ms: float = 0.0  # plus uniform [0, jitter_ms)
    error_latency_ms: float = 0.0  # before an error answer
    responder: Responder | None = None  # request JSON -> text or Reply; default "echo: <last user text>"
    rates: dict[int | str, float] = field(default_factory=dict)  # random faults, e.g. {429: 0.2, "drop": 0.01}
    rate_retry_after: float | None = 1.0  # Retry-After (s) on random 429s; None omits it
    rpm: int | None = None  # at most rpm requests per rolling window, else 429
    rpm_window_s: float = 60.0
    rpm_grace_s: float = 0.0  # admit a request this much early (real limiters are not exact to the millisecond)
    rpm_retry_after: bool = True  # False: the rpm 429 carries no Retry-After at all
    retry_header_prefix: str = ""  # "llm_provider-": the rpm 429's Retry-After headers as LiteLLM forwards them
    advertise_limits: bool = False  # send x-ratelimit-* (or anthropic-ratelimit-*) headers on every answer
    advertised_tpm: int = 10_000_000  # the token limit those headers advertise (not enforced)
    usage: bool = True  # False: replies carry no `usage` at all
    reject_containing: str | None = None  # 400 "content filter" for every request whose body holds this text
    api_key: str | None = None  # when set, requests with another key get 401
    models: tuple[str, ...] = ("loopback-model",)
    seed: int = 0  # for random faults and jitter
    record: bool = True  # keep every request (headers and body) in `.requests`


class LoopbackServer:
    """The server; `with LoopbackServer(latency_ms=5) as server:` runs it in a thread."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, **config: Any) -> None:
        self.host = host
        self.port = port
        self.config = LoopbackConfig()
        self.requests = RequestLog()
        self._policy = Policy(self.config, self.config.seed)
        self.configure(**config)
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop_event: asyncio.Event | None = None
        self._in_flight = 0
        self.peak_in_flight = 0  # API requests being answered at once, at most (concurrency seen by the server)

    # ---- addresses and control ------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url  # the Anthropic SDK appends /v1/messages itself

    base_url = openai_base_url

    def configure(self, **changes: Any) -> None:
        """Change behaviour at runtime, e.g. `configure(latency_ms=200, rpm=10)`."""
        for name, value in changes.items():
            if name not in LoopbackConfig.__dataclass_fields__:
                raise TypeError(f"unknown loopback setting {name!r}")
            if name == "rates":
                value = {rate_key(k): float(v) for k, v in dict(value).items()}
            elif name == "models":
                value = tuple(value)
            setattr(self.config, name, value)
        if "seed" in changes:
            self._policy.reseed(self.config.seed)

    def add_faults(self, *faults: Fault | int | str) -> None:
        """Script the next requests: each fault is used once, in order, before anything else."""
        self._policy.add([parse_fault(f) for f in faults])

    def clear_faults(self) -> None:
        self._policy.clear_faults()

    @property
    def pending_faults(self) -> int:
        return int(self._policy.stats()["pending_faults"])

    @property
    def total(self) -> int:
        """API requests received (admin routes and unknown paths excluded)."""
        return int(self._policy.stats()["total"])

    def status_counts(self) -> dict[int | str, int]:
        """Answers by status code, plus "hang" and "drop"."""
        return dict(self._policy.stats()["by_status"])

    def stats(self) -> dict[str, Any]:
        """{"total": n, "by_status": {...}, "pending_faults": n}."""
        return self._policy.stats()

    def reset(self) -> None:
        """Forget requests, counts, scripted faults and the rate-limit window."""
        self._policy.reset()
        self.requests.clear()
        self.peak_in_flight = 0

    # ---- HTTP ------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        address = writer.get_extra_info("peername") or ("?", 0)
        peer = f"{address[0]}:{address[1]}"
        try:
            while True:
                request = await read_request(reader, peer)
                if request is None or not await self._serve(request, reader, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _serve(self, request: HttpRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection must close."""
        path = request.path.split("?", 1)[0]
        if path.startswith("/_loopback/"):
            status, body = self._admin(request.method, path, request.body)
            return await send_json(writer, status, body, (), request.keep_alive)
        route = _route(request.method, path)
        if route is None:
            error = openai_error(404, f"no route {request.method} {path}")
            return await send_json(writer, 404, error, (), request.keep_alive)
        self._in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            return await self._serve_api(route, request, reader, writer)
        finally:
            self._in_flight -= 1

    async def _serve_api(self, route: str, request: HttpRequest, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> bool:
        anthropic = route == "messages" or (route == "models" and "anthropic-version" in request.headers)
        outcome = self._policy.decide(request.headers, anthropic)
        if self.config.record:
            self.requests.append(
                LoggedRequest(
                    request.method,
                    request.path,
                    request.headers,
                    request.body,
                    outcome.status,
                    outcome.fault,
                    time.time(),
                    request.peer,
                )
            )
        if outcome.fault == "drop":
            writer.transport.abort()
            return False
        if outcome.fault == "hang":
            while await reader.read(65536):  # until the client gives up or the server stops
                pass
            return False
        await asyncio.sleep(self._delay(outcome))
        extra = (("request-id" if anthropic else "x-request-id", f"req_loopback_{outcome.serial}"),)
        if outcome.status is not None and outcome.status != 200:
            body = (anthropic_error if anthropic else openai_error)(outcome.status, outcome.message)
            return await send_json(writer, outcome.status, body, outcome.headers + extra, request.keep_alive)
        flagged = self.config.reject_containing
        if flagged and outcome.status == 200 and flagged.encode() in request.body:
            error = (anthropic_error if anthropic else openai_error)(400, "Content filter: the prompt was flagged.")
            return await send_json(writer, 400, error, extra, request.keep_alive)
        if outcome.fault in BROKEN_200:
            return await self._broken(str(outcome.fault), anthropic, request, writer, outcome.headers + extra)
        return await self._answer(route, anthropic, request, writer, outcome.headers + extra, outcome.serial)

    async def _broken(self, kind: str, anthropic: bool, request: HttpRequest, writer: asyncio.StreamWriter,
                      headers: tuple[tuple[str, str], ...]) -> bool:
        """An HTTP 200 that holds no answer, the way broken gateways and wrong base URLs send them."""
        payload = json.loads(request.body or b"{}")
        if kind == "html":
            page = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Welcome</body></html>"
            return await send_body(writer, 200, "text/html; charset=utf-8", page, headers, request.keep_alive)
        if kind == "badjson":
            return await send_body(writer, 200, "application/json", b"upstream connect error or disconnect",
                                   headers, request.keep_alive)
        if kind == "sse":
            events = (anthropic_stream if anthropic else openai_stream)(payload, self._reply(payload), 0)
            return await send_stream(writer, events, headers, request.keep_alive)
        if kind == "error200":
            body = (anthropic_error if anthropic else openai_error)(500, "No connected db.")
        else:  # "empty"
            body = (anthropic_message if anthropic else openai_completion)(payload, self._reply(payload), 0)
            body["content" if anthropic else "choices"] = []
        return await send_json(writer, 200, body, headers, request.keep_alive)

    def _delay(self, outcome: Outcome) -> float:
        config = self.config
        if outcome.status != 200:
            return config.error_latency_ms / 1000.0
        jitter = self._policy.uniform() * config.jitter_ms if config.jitter_ms > 0 else 0.0
        return (config.latency_ms + jitter) / 1000.0

    async def _answer(
        self,
        route: str,
        anthropic: bool,
        request: HttpRequest,
        writer: asyncio.StreamWriter,
        extra: tuple[tuple[str, str], ...],
        serial: int,
    ) -> bool:
        if route == "models":
            models = self.config.models
            body = anthropic_models(models) if anthropic else openai_models(models)
            return await send_json(writer, 200, body, extra, request.keep_alive)
        if route in ("embeddings", "moderations"):
            answer = openai_embeddings if route == "embeddings" else openai_moderation
            return await send_json(writer, 200, answer(json.loads(request.body or b"{}")), extra, request.keep_alive)
        try:
            payload = json.loads(request.body or b"{}")
            reply = self._reply(payload)
        except Exception as exc:  # a broken responder or body is the test's bug: show it, answer 500
            traceback.print_exc(file=sys.stderr)
            error = (anthropic_error if anthropic else openai_error)(500, f"loopback: {type(exc).__name__}")
            return await send_json(writer, 500, error, extra, request.keep_alive)
        if route == "responses":
            stream_of, answer_of = openai_response_stream, openai_response
        else:
            stream_of = anthropic_stream if anthropic else openai_stream
            answer_of = anthropic_message if anthropic else openai_completion
        if payload.get("stream"):
            return await send_stream(writer, stream_of(payload, reply, serial), extra, request.keep_alive)
        body = answer_of(payload, reply, serial)
        if not self.config.usage:
            del body["usage"]
        return await send_json(writer, 200, body, extra, request.keep_alive)

    def _reply(self, payload: dict[str, Any]) -> Reply:
        if "input" in payload and "messages" not in payload:  # the Responses API
            payload = responses_as_chat(payload)
        responder = self.config.responder
        if responder is None:
            return Reply(f"echo: {last_user_text(payload)}")
        answer = responder(payload)
        return answer if isinstance(answer, Reply) else Reply(str(answer))

    def _admin(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if method == "GET" and path == "/_loopback/stats":
            return 200, self.stats()
        if method == "POST" and path == "/_loopback/reset":
            self.reset()
            return 200, self.stats()
        if method == "POST" and path == "/_loopback/config":
            self.configure(**json.loads(body or b"{}"))
            return 200, {k: v for k, v in dataclasses.asdict(self.config).items() if k != "responder"}
        if method == "POST" and path == "/_loopback/faults":
            self.add_faults(*json.loads(body or b"[]"))
            return 200, self.stats()
        return 404, {"error": {"message": f"no admin route {method} {path}"}}

    # ---- lifecycle -------------------------------------------------------------------------

    async def start_async(self) -> None:
        """Listen on the running event loop (process mode); sets `.port`."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port, limit=MAX_HEAD, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop_async(self) -> None:
        """Stop listening and close every connection, hung ones included."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    def start(self) -> LoopbackServer:
        """Run in a daemon thread; returns when the port is bound."""
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            stop = asyncio.Event()
            self._loop, self._stop_event = asyncio.get_running_loop(), stop
            try:
                await self.start_async()
            except BaseException as exc:
                failure.append(exc)
                return
            finally:
                ready.set()
            await stop.wait()
            await self.stop_async()

        self._thread = threading.Thread(target=asyncio.run, args=(main(),), name="loopback-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        """End the thread started by `start`."""
        if self._loop is not None and self._stop_event is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
            self._thread.join(10)
        self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _route(method: str, path: str) -> str | None:
    if method == "POST" and path.endswith("/chat/completions"):
        return "chat"
    if method == "POST" and path.endswith("/messages"):
        return "messages"
    if method == "POST" and path.endswith("/responses"):
        return "responses"
    if method == "GET" and path.rstrip("/").endswith("/models"):
        return "models"
    if method == "POST" and path.endswith(("/embeddings", "/moderations")):
        return path.rsplit("/", 1)[1]
    return None


# ---- process mode ----------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Loopback OpenAI/Anthropic server for tests and benchmarks.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--error-latency-ms", type=float, default=0.0)
    parser.add_argument("--rpm", type=int, default=None, help="429 beyond N requests per window")
    parser.add_argument("--rpm-window-s", type=float, default=60.0)
    parser.add_argument("--no-retry-after", action="store_true", help="rpm 429s and random 429s carry no Retry-After")
    parser.add_argument("--advertise-limits", action="store_true", help="send x-ratelimit-* headers on every answer")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After (s) on random 429s")
    for status in (400, 401, 403, 404, 429, 500, 503, 529):
        parser.add_argument(f"--fault-{status}", type=float, default=0.0, metavar="RATE")
    parser.add_argument("--fault-hang", type=float, default=0.0, metavar="RATE")
    parser.add_argument("--fault-drop", type=float, default=0.0, metavar="RATE")
    parser.add_argument("--faults", default="", help="scripted faults for the first requests: 429:1,500,hang,drop")
    parser.add_argument("--reply", default=None, help="answer this text instead of echoing")
    parser.add_argument("--reply-tool", default=None, metavar="NAME", help="answer a call to tool NAME (q: x)")
    parser.add_argument("--api-key", default=None, help="require this key (401 otherwise)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", action="store_true", help="keep request bodies in memory")
    return parser.parse_args(argv)


def _config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    rates: dict[int | str, float] = {}
    for key in (400, 401, 403, 404, 429, 500, 503, 529, "hang", "drop"):
        rate = getattr(args, f"fault_{key}")
        if rate > 0:
            rates[key] = rate
    reply = args.reply
    tool = args.reply_tool
    responder = (lambda _body: Reply("", ((tool, {"q": "x"}),))) if tool else None
    if reply is not None:
        responder = lambda _body: reply
    return {
        "latency_ms": args.latency_ms,
        "jitter_ms": args.jitter_ms,
        "error_latency_ms": args.error_latency_ms,
        "rpm": args.rpm,
        "rpm_window_s": args.rpm_window_s,
        "rpm_retry_after": not args.no_retry_after,
        "advertise_limits": args.advertise_limits,
        "rates": rates,
        "rate_retry_after": None if args.no_retry_after else args.retry_after,
        "responder": responder,
        "api_key": args.api_key,
        "seed": args.seed,
        "record": args.record,
    }


async def _serve_process(args: argparse.Namespace) -> None:
    server = LoopbackServer(port=args.port, **_config_from_args(args))
    if args.faults:
        server.add_faults(*[part for part in args.faults.split(",") if part])
    await server.start_async()
    print(server.openai_base_url, flush=True)
    print(server.anthropic_base_url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop_async()
    print(json.dumps(server.stats()), file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    asyncio.run(_serve_process(_parse_args(argv)))


if __name__ == "__main__":
    main()
