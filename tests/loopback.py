"""A real HTTP/1.1 server on 127.0.0.1 that speaks the OpenAI and Anthropic wire formats.

Tests run it in a background thread (`with LoopbackServer(...) as server:`); benchmarks
run it as a process (`python tests/loopback.py --port 0 --latency-ms 50`), which prints
the OpenAI base URL on its first line and the Anthropic base URL on its second.

Routes: POST /v1/chat/completions, POST /v1/messages (both with `stream: true` as SSE),
GET /v1/models; and for process mode GET /_loopback/stats, POST /_loopback/reset,
POST /_loopback/config (JSON of LoopbackConfig fields), POST /_loopback/faults
(a JSON list of fault specs such as ["429:1", "500", "hang", "drop"]).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import json
import math
import random
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from loopback_wire import (
    Reply,
    anthropic_error,
    anthropic_message,
    anthropic_models,
    anthropic_stream,
    last_user_text,
    openai_completion,
    openai_error,
    openai_models,
    openai_stream,
)

__all__ = ["Fault", "LoggedRequest", "LoopbackConfig", "LoopbackServer", "Reply", "RequestLog", "parse_fault"]

Responder = Callable[[dict[str, Any]], "str | Reply"]
_MAX_HEAD = 64 * 1024
_REASONS = {529: "Site Overloaded"}


@dataclass(frozen=True, slots=True)
class Fault:
    """What the server does instead of answering: an error status, `hang` or `drop`."""

    kind: str = "status"  # "status" | "hang" | "drop"
    status: int = 500
    retry_after: str | None = None  # the Retry-After header exactly as sent (seconds or an HTTP date)
    retry_after_ms: float | None = None  # the retry-after-ms header
    message: str | None = None  # error message; the provider's usual text when None

    @classmethod
    def error(cls, status: int, *, retry_after: float | str | None = None,
              retry_after_ms: float | None = None, message: str | None = None) -> Fault:
        value = None if retry_after is None else (retry_after if isinstance(retry_after, str) else _seconds(retry_after))
        return cls("status", status, value, retry_after_ms, message)

    @classmethod
    def hang(cls) -> Fault:
        return cls("hang", 0)

    @classmethod
    def drop(cls) -> Fault:
        return cls("drop", 0)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def parse_fault(spec: str | int | Fault) -> Fault:
    """`Fault`, 500, "500", "429:1" (Retry-After: 1), "429:ms=250", "hang" or "drop"."""
    if isinstance(spec, Fault):
        return spec
    if isinstance(spec, int):
        return Fault.error(spec)
    text = spec.strip().lower()
    if text in ("hang", "drop"):
        return Fault(text, 0)
    status, _, after = text.partition(":")
    if after.startswith("ms="):
        return Fault.error(int(status), retry_after_ms=float(after[3:]))
    return Fault.error(int(status), retry_after=after or None)


@dataclass(slots=True)
class LoopbackConfig:
    """Behaviour of the server; every field may be changed while it runs."""

    latency_ms: float = 0.0  # before every successful answer
    jitter_ms: float = 0.0  # plus uniform [0, jitter_ms)
    error_latency_ms: float = 0.0  # before an error answer
    responder: Responder | None = None  # request JSON -> text or Reply; default "echo: <last user text>"
    rates: dict[int | str, float] = field(default_factory=dict)  # random faults, e.g. {429: 0.2, "drop": 0.01}
    rate_retry_after: float | None = 1.0  # Retry-After (s) on random 429s; None omits it
    rpm: int | None = None  # at most rpm requests per rolling window, else 429
    rpm_window_s: float = 60.0
    rpm_retry_after: bool = True  # False: the 429 carries no Retry-After at all
    api_key: str | None = None  # when set, other keys get 401
    models: tuple[str, ...] = ("loopback-model",)
    seed: int = 0
    record: bool = True  # keep every request (headers and body) in `.requests`


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as the server received it, and what it answered."""

    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    status: int | None  # None for hang and drop
    fault: str | None  # "hang", "drop", "status", "rpm", "auth", or None
    time: float
    peer: str  # the client's host:port, one per connection

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class RequestLog:
    """A thread-safe list of `LoggedRequest`; iterate or index to read a snapshot."""

    def __init__(self) -> None:
        self._items: list[LoggedRequest] = []
        self._cond = threading.Condition()

    def append(self, item: LoggedRequest) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def snapshot(self) -> list[LoggedRequest]:
        with self._cond:
            return list(self._items)

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def __iter__(self) -> Any:
        return iter(self.snapshot())

    def __getitem__(self, index: int) -> LoggedRequest:
        with self._cond:
            return self._items[index]

    def paths(self) -> list[str]:
        return [item.path for item in self.snapshot()]

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Block until at least `count` requests arrived; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._items) >= count, timeout)


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool
    peer: str


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: int | None
    fault: str | None
    headers: tuple[tuple[str, str], ...] = ()
    message: str | None = None
    serial: int = 0


class LoopbackServer:
    """The server; `with LoopbackServer(latency_ms=5) as server:` runs it in a thread."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, **config: Any) -> None:
        self.host = host
        self.port = port
        self.config = LoopbackConfig(**config)
        self.requests = RequestLog()
        self._lock = threading.Lock()
        self._faults: collections.deque[Fault] = collections.deque()
        self._window: collections.deque[float] = collections.deque()
        self._counts: collections.Counter[int | str] = collections.Counter()
        self._total = 0
        self._rng = random.Random(self.config.seed)
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop_event: asyncio.Event | None = None

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
            if name in ("rates",):
                value = {_rate_key(k): float(v) for k, v in dict(value).items()}
            if name == "models":
                value = tuple(value)
            setattr(self.config, name, value)
        if "seed" in changes:
            with self._lock:
                self._rng = random.Random(self.config.seed)

    def add_faults(self, *faults: Fault | int | str) -> None:
        """Script the next requests: each fault is used once, in order, before anything else."""
        with self._lock:
            self._faults.extend(parse_fault(f) for f in faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    @property
    def total(self) -> int:
        """API requests received (admin routes excluded)."""
        with self._lock:
            return self._total

    def status_counts(self) -> dict[int | str, int]:
        """Answers by status code, plus "hang" and "drop"."""
        with self._lock:
            return dict(self._counts)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"total": self._total, "by_status": {str(k): v for k, v in self._counts.items()},
                    "pending_faults": len(self._faults)}

    def reset(self) -> None:
        """Forget requests, counts, scripted faults and the rate-limit window."""
        with self._lock:
            self._faults.clear()
            self._window.clear()
            self._counts.clear()
            self._total = 0
        self.requests.clear()

    # ---- deciding what to answer -----------------------------------------------------------

    def _decide(self, request: _Request, anthropic: bool) -> _Outcome:
        config = self.config
        with self._lock:
            self._total += 1
            now = time.monotonic()
            outcome = self._scripted() or self._auth(request, anthropic) or self._limited(now) or self._random()
            outcome = dataclasses.replace(outcome or _Outcome(200, None), serial=self._total)
            self._counts[outcome.status if outcome.status is not None else str(outcome.fault)] += 1
        if config.record:
            self.requests.append(LoggedRequest(request.method, request.path, request.headers, request.body,
                                               outcome.status, outcome.fault, time.time(), request.peer))
        return outcome

    def _scripted(self) -> _Outcome | None:
        if not self._faults:
            return None
        return _fault_outcome(self._faults.popleft())

    def _auth(self, request: _Request, anthropic: bool) -> _Outcome | None:
        key = self.config.api_key
        if key is None:
            return None
        sent = request.headers.get("x-api-key") if anthropic else None
        if sent is None:
            sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return None if sent == key else _Outcome(401, "auth")

    def _limited(self, now: float) -> _Outcome | None:
        rpm, window = self.config.rpm, self.config.rpm_window_s
        if rpm is None:
            return None
        while self._window and self._window[0] <= now - window:
            self._window.popleft()
        if len(self._window) < rpm:
            self._window.append(now)
            return None
        wait = max(0.0, self._window[0] + window - now)
        headers = ((("retry-after", str(math.ceil(wait))), ("retry-after-ms", str(math.ceil(wait * 1000))))
                   if self.config.rpm_retry_after else ())
        return _Outcome(429, "rpm", headers, f"Rate limit reached: {rpm} requests per {window:g} s.")

    def _random(self) -> _Outcome | None:
        rates = self.config.rates
        if not rates:
            return None
        draw = self._rng.random()
        for key, rate in rates.items():
            if draw < rate:
                if key in ("hang", "drop"):
                    return _Outcome(None, str(key))
                after = self.config.rate_retry_after if key == 429 else None
                return _fault_outcome(Fault.error(int(key), retry_after=after))
            draw -= rate
        return None

    def _delay(self, outcome: _Outcome) -> float:
        config = self.config
        if outcome.status != 200:
            return config.error_latency_ms / 1000.0
        jitter = self._rng.random() * config.jitter_ms if config.jitter_ms > 0 else 0.0
        return (config.latency_ms + jitter) / 1000.0

    # ---- HTTP ------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        address = writer.get_extra_info("peername") or ("?", 0)
        peer = f"{address[0]}:{address[1]}"
        try:
            while True:
                request = await _read_request(reader, peer)
                if request is None or not await self._serve(request, reader, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _serve(self, request: _Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection must close."""
        path = request.path.split("?", 1)[0]
        if path.startswith("/_loopback/"):
            status, body = self._admin(request.method, path, request.body)
            return await _send_json(writer, status, body, (), request.keep_alive)
        route = _route(request.method, path)
        if route is None:
            return await _send_json(writer, 404, openai_error(404, f"no route {request.method} {path}"), (),
                                    request.keep_alive)
        anthropic = route == "messages" or (route == "models" and "anthropic-version" in request.headers)
        outcome = self._decide(request, anthropic)
        if outcome.fault == "drop":
            writer.transport.abort()
            return False
        if outcome.fault == "hang":
            while await reader.read(65536):  # until the client gives up or the server stops
                pass
            return False
        await asyncio.sleep(self._delay(outcome))
        extra = (("request-id" if anthropic else "x-request-id", f"req_loopback_{outcome.serial}"),)
        if outcome.status != 200:
            error = anthropic_error if anthropic else openai_error
            assert outcome.status is not None
            return await _send_json(writer, outcome.status, error(outcome.status, outcome.message),
                                    outcome.headers + extra, request.keep_alive)
        return await self._answer(route, anthropic, request, writer, extra, outcome.serial)

    async def _answer(self, route: str, anthropic: bool, request: _Request, writer: asyncio.StreamWriter,
                      extra: tuple[tuple[str, str], ...], serial: int) -> bool:
        models = self.config.models
        if route == "models":
            body = anthropic_models(models) if anthropic else openai_models(models)
            return await _send_json(writer, 200, body, extra, request.keep_alive)
        try:
            payload = json.loads(request.body or b"{}")
            reply = self._reply(payload)
        except Exception as exc:  # a broken responder or body is the test's bug: show it, answer 500
            traceback.print_exc(file=sys.stderr)
            error = anthropic_error if anthropic else openai_error
            return await _send_json(writer, 500, error(500, f"loopback: {type(exc).__name__}"), extra,
                                    request.keep_alive)
        if payload.get("stream"):
            events = (anthropic_stream if anthropic else openai_stream)(payload, reply, serial)
            return await _send_stream(writer, events, extra, request.keep_alive)
        body = (anthropic_message if anthropic else openai_completion)(payload, reply, serial)
        return await _send_json(writer, 200, body, extra, request.keep_alive)

    def _reply(self, payload: dict[str, Any]) -> Reply:
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
        """Listen on the event loop that calls this (process mode)."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port, limit=_MAX_HEAD, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop_async(self) -> None:
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
        """Close every connection (hung ones too) and end the thread."""
        if self._loop is not None and self._stop_event is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
            self._thread.join(10)
        self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _rate_key(key: int | str) -> int | str:
    return key if key in ("hang", "drop") or isinstance(key, int) else int(key)


def _fault_outcome(fault: Fault) -> _Outcome:
    if fault.kind in ("hang", "drop"):
        return _Outcome(None, fault.kind)
    headers: list[tuple[str, str]] = []
    if fault.retry_after is not None:
        headers.append(("retry-after", fault.retry_after))
    if fault.retry_after_ms is not None:
        headers.append(("retry-after-ms", _seconds(fault.retry_after_ms)))
    return _Outcome(fault.status, "status", tuple(headers), fault.message)


def _route(method: str, path: str) -> str | None:
    if method == "POST" and path.endswith("/chat/completions"):
        return "chat"
    if method == "POST" and path.endswith("/messages"):
        return "messages"
    if method == "GET" and path.rstrip("/").endswith("/models"):
        return "models"
    return None


async def _read_request(reader: asyncio.StreamReader, peer: str) -> _Request | None:
    """One request, or None when the client closed the connection between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version.upper() == "HTTP/1.1" else connection == "keep-alive"
    return _Request(method.upper(), target, headers, body, keep_alive, peer)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _head(status: int, headers: Iterable[tuple[str, str]], keep_alive: bool) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = _REASONS.get(status, "Unknown")
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers)]
    lines.append(f"connection: {'keep-alive' if keep_alive else 'close'}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send_json(writer: asyncio.StreamWriter, status: int, body: Any,
                     headers: tuple[tuple[str, str], ...], keep_alive: bool) -> bool:
    data = json.dumps(body).encode()
    fixed = (("content-type", "application/json"), ("content-length", str(len(data))))
    writer.write(_head(status, fixed + headers, keep_alive) + data)
    await writer.drain()
    return keep_alive


async def _send_stream(writer: asyncio.StreamWriter, events: list[bytes],
                       headers: tuple[tuple[str, str], ...], keep_alive: bool) -> bool:
    fixed = (("content-type", "text/event-stream"), ("cache-control", "no-cache"), ("transfer-encoding", "chunked"))
    writer.write(_head(200, fixed + headers, keep_alive))
    for event in events:
        writer.write(b"%x\r\n%s\r\n" % (len(event), event))
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    return keep_alive


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
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After (s) on random 429s")
    for status in (400, 401, 403, 404, 429, 500, 503, 529):
        parser.add_argument(f"--fault-{status}", type=float, default=0.0, metavar="RATE")
    parser.add_argument("--fault-hang", type=float, default=0.0, metavar="RATE")
    parser.add_argument("--fault-drop", type=float, default=0.0, metavar="RATE")
    parser.add_argument("--faults", default="", help="scripted faults for the first requests: 429:1,500,hang,drop")
    parser.add_argument("--reply", default=None, help="answer this text instead of echoing")
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
    return {
        "latency_ms": args.latency_ms, "jitter_ms": args.jitter_ms, "error_latency_ms": args.error_latency_ms,
        "rpm": args.rpm, "rpm_window_s": args.rpm_window_s, "rpm_retry_after": not args.no_retry_after,
        "rates": rates, "rate_retry_after": None if args.no_retry_after else args.retry_after,
        "responder": (lambda _body: reply) if reply is not None else None,
        "api_key": args.api_key, "seed": args.seed, "record": args.record,
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
