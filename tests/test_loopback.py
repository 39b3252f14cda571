"""The loopback server itself: wire formats, streaming, limits, faults and process mode."""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from loopback import Fault, LoopbackServer, Reply, parse_fault

USER = [{"role": "user", "content": "stream me a fairly long answer please"}]


def _post(
    server_url: str, path: str, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    host, port = server_url.removeprefix("http://").split("/")[0].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request(
            "POST", path, body=json.dumps(body), headers={"content-type": "application/json", **(headers or {})}
        )
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(response.read() or b"null")
    finally:
        conn.close()


def _chat(server: LoopbackServer, **headers: str) -> tuple[int, dict[str, str], Any]:
    return _post(server.url, "/v1/chat/completions", {"model": "m", "messages": USER}, headers)


def test_streaming_through_both_sdks(loopback_server):
    async def run() -> tuple[str, Any, str, Any]:
        oa = openai.AsyncOpenAI(api_key="k", base_url=loopback_server.openai_base_url, max_retries=0)
        stream = await oa.chat.completions.create(
            model="m", messages=USER, stream=True, stream_options={"include_usage": True}
        )
        parts, usage = [], None
        async for chunk in stream:
            parts += [c.delta.content or "" for c in chunk.choices]
            usage = chunk.usage or usage
        an = anthropic.AsyncAnthropic(api_key="k", base_url=loopback_server.anthropic_base_url, max_retries=0)
        async with an.messages.stream(model="c", max_tokens=100, messages=USER) as events:
            final = await events.get_final_message()
        await oa.close()
        await an.close()
        return "".join(parts), usage, final.content[0].text, final.usage

    text, usage, anthropic_text, anthropic_usage = asyncio.run(run())
    expected = "echo: " + USER[0]["content"]
    assert text == anthropic_text == expected
    assert usage.completion_tokens == anthropic_usage.output_tokens == len(expected) // 4
    assert anthropic_usage.input_tokens == len(USER[0]["content"]) // 4


def test_streamed_tool_calls_and_max_tokens(loopback_server):
    loopback_server.configure(responder=lambda body: Reply("x" * 100, (("lookup", {"q": "a b"}),)))

    async def run() -> tuple[Any, Any]:
        an = anthropic.AsyncAnthropic(api_key="k", base_url=loopback_server.anthropic_base_url, max_retries=0)
        async with an.messages.stream(model="c", max_tokens=5, messages=USER) as events:
            final = await events.get_final_message()
        oa = openai.AsyncOpenAI(api_key="k", base_url=loopback_server.openai_base_url, max_retries=0)
        reply = await oa.chat.completions.create(model="m", messages=USER, max_tokens=5)
        await an.close()
        await oa.close()
        return final, reply

    final, reply = asyncio.run(run())
    assert final.stop_reason == "max_tokens" and final.content[0].text == "x" * 20
    assert final.content[1].name == "lookup" and final.content[1].input == {"q": "a b"}
    assert reply.choices[0].finish_reason == "length"


def test_models_in_both_formats(loopback_server):
    loopback_server.configure(models=["a", "b"])

    async def run() -> tuple[list[str], list[str]]:
        oa = openai.AsyncOpenAI(api_key="k", base_url=loopback_server.openai_base_url, max_retries=0)
        an = anthropic.AsyncAnthropic(api_key="k", base_url=loopback_server.anthropic_base_url, max_retries=0)
        try:
            return [m.id async for m in await oa.models.list()], [m.id async for m in an.models.list()]
        finally:
            await oa.close()
            await an.close()

    assert asyncio.run(run()) == (["a", "b"], ["a", "b"])


def test_rolling_rpm_window_with_honest_retry_after(loopback_server):
    loopback_server.configure(rpm=2, rpm_window_s=1.0)
    statuses = [_chat(loopback_server)[0] for _ in range(2)]
    status, headers, body = _chat(loopback_server)
    assert statuses == [200, 200] and status == 429
    assert body["error"]["code"] == "rate_limit_exceeded"
    wait_ms = int(headers["retry-after-ms"])
    assert 0 < wait_ms <= 1000 and headers["retry-after"] == "1"
    time.sleep(wait_ms / 1000 + 0.02)
    assert _chat(loopback_server)[0] == 200
    assert loopback_server.status_counts() == {200: 3, 429: 1}

    loopback_server.configure(rpm_retry_after=False, rpm_window_s=60)
    answers = [_chat(loopback_server) for _ in range(3)]
    status, headers, _ = answers[-1]
    assert status == 429 and "retry-after" not in headers and "retry-after-ms" not in headers


def test_random_faults_are_seeded(loopback_server):
    loopback_server.configure(rates={429: 1.0}, rate_retry_after=3)
    status, headers, _ = _chat(loopback_server)
    assert (status, headers["retry-after"]) == (429, "3")

    def sequence(seed: int) -> list[int]:
        loopback_server.configure(rates={500: 0.5}, seed=seed)
        return [_chat(loopback_server)[0] for _ in range(12)]

    first = sequence(7)
    assert first == sequence(7) and set(first) == {200, 500}


def test_scripted_faults_come_first_in_order(loopback_server):
    loopback_server.add_faults(Fault.error(503, retry_after="Wed, 21 Oct 2099 07:28:00 GMT"), 400, "429:ms=1500")
    answers = [_post(loopback_server.url, "/v1/messages", {"model": "c", "messages": USER}) for _ in range(4)]
    assert [a[0] for a in answers] == [503, 400, 429, 200]
    assert answers[0][1]["retry-after"] == "Wed, 21 Oct 2099 07:28:00 GMT"
    assert answers[1][2] == {"type": "error", "error": {"type": "invalid_request_error", "message": "Invalid request."}}
    assert answers[2][1]["retry-after-ms"] == "1500"
    assert loopback_server.pending_faults == 0 and loopback_server.total == 4


def test_parse_fault_forms():
    assert parse_fault("429:2") == Fault.error(429, retry_after=2)
    assert parse_fault(" HANG ") == Fault.hang()
    assert parse_fault(529) == Fault.error(529)


def test_api_key_enforcement(loopback_server):
    loopback_server.configure(api_key="right")
    assert _chat(loopback_server, authorization="Bearer wrong")[0] == 401
    assert _chat(loopback_server, authorization="Bearer right")[0] == 200
    status, _, body = _post(loopback_server.url, "/v1/messages", {"model": "c", "messages": USER}, {"x-api-key": "no"})
    assert status == 401 and body["error"]["type"] == "authentication_error"


def test_keep_alive_chunked_bodies_and_unknown_routes(loopback_server):
    conn = http.client.HTTPConnection("127.0.0.1", loopback_server.port, timeout=5)
    try:
        for _ in range(3):
            conn.request(
                "POST",
                "/v1/chat/completions",
                body=iter([json.dumps({"messages": USER}).encode()]),
                headers={"content-type": "application/json", "transfer-encoding": "chunked"},
                encode_chunked=True,
            )
            response = conn.getresponse()
            assert json.loads(response.read())["choices"][0]["message"]["content"].startswith("echo: ")
        conn.request("GET", "/v1/nothing")
        response = conn.getresponse()
        assert response.status == 404 and json.loads(response.read())["error"]["message"]
    finally:
        conn.close()
    assert len({r.peer for r in loopback_server.requests}) == 1
    assert loopback_server.total == 3  # the unknown route is not an API request


async def _raw_chat(port: int) -> int:
    """One request over a fresh connection with bare asyncio streams (no SDK overhead)."""
    body = json.dumps({"model": "m", "messages": USER}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: %d\r\n\r\n"
    writer.write(head % len(body) + body)
    response = await reader.read()
    writer.close()
    return int(response.split(b" ", 2)[1])


def test_many_concurrent_requests_overlap(loopback_server):
    loopback_server.configure(latency_ms=50, record=False)

    async def burst() -> list[int]:
        return await asyncio.gather(*(_raw_chat(loopback_server.port) for _ in range(128)))

    statuses = asyncio.run(burst())
    assert statuses == [200] * 128 and loopback_server.status_counts() == {200: 128}
    assert loopback_server.peak_in_flight > 16  # answered side by side, not one at a time
    assert len(loopback_server.requests) == 0  # record=False keeps nothing


def test_stop_releases_a_hung_request():
    server = LoopbackServer().start()
    server.add_faults("hang")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/v1/chat/completions", body=json.dumps({"messages": USER}))
    assert server.requests.wait_for(1, timeout=5)
    server.stop()
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):  # not the client's 5 s socket timeout
        conn.getresponse()


def test_process_mode_prints_urls_and_serves():
    script = Path(__file__).with_name("loopback.py")
    process = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--latency-ms", "1", "--faults", "500", "--reply", '{"score": 4}'],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        openai_url, anthropic_url = process.stdout.readline().strip(), process.stdout.readline().strip()
        assert openai_url == anthropic_url + "/v1" and openai_url.startswith("http://127.0.0.1:")
        first = _post(anthropic_url, "/v1/chat/completions", {"messages": USER})
        second = _post(anthropic_url, "/v1/chat/completions", {"messages": USER})
        assert (first[0], second[0]) == (500, 200)
        assert second[2]["choices"][0]["message"]["content"] == '{"score": 4}'
        _post(anthropic_url, "/_loopback/config", {"rates": {"429": 1.0}})
        assert _post(anthropic_url, "/v1/messages", {"messages": USER})[0] == 429
        host_port = anthropic_url.removeprefix("http://")
        conn = http.client.HTTPConnection(*host_port.split(":"), timeout=5)
        conn.request("GET", "/_loopback/stats")
        stats = json.loads(conn.getresponse().read())
        conn.close()
        assert stats["total"] == 3 and stats["by_status"] == {"500": 1, "200": 1, "429": 1}
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    assert process.returncode == 0
    assert json.loads(err.strip().splitlines()[-1])["total"] == 3
