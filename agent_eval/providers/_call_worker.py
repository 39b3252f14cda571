"""A worker process that makes model calls for the parent (`--workers`): the SDK's CPU on another core.

Started as `python -m agent_eval.providers._call_worker`; reads pickled frames on stdin: first the provider
to build (spec, key, base URL, connections), then `(id, request)` calls, answered as they finish, in any
order, with `(id, True, completion)` or `(id, False, decision)` on stdout. Pacing, retries, budgets and
the cache stay in the parent: a call here is one attempt. It runs in its own session (Ctrl-C is the
parent's to handle) and ends when its stdin closes, as it does when the parent exits or is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import sys
from typing import Any

from agent_eval.providers.base import Provider

__all__ = ["main"]

_HEADER_SIZE = 4


async def _serve(reader: asyncio.StreamReader, out: Any) -> None:
    size = int.from_bytes(await reader.readexactly(_HEADER_SIZE), "big")
    spec, api_key, base_url, max_connections = pickle.loads(await reader.readexactly(size))
    provider = _provider(spec, api_key, base_url, max_connections)
    tasks: set[asyncio.Task[None]] = set()

    loop = asyncio.get_running_loop()
    batch: list[bytes] = []

    def flush() -> None:
        """One write for the answers of a loop iteration: fewer system calls than one each."""
        data = b"".join(batch)
        batch.clear()
        with contextlib.suppress(BrokenPipeError):  # the parent has gone: nobody waits for the answer
            out.write(data)
            out.flush()

    def answer(message: tuple[Any, ...]) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        if not batch:
            loop.call_soon(flush)
        batch.append(len(data).to_bytes(_HEADER_SIZE, "big") + data)

    async def one(call_id: int, request: Any) -> None:
        try:
            completion = await provider.complete(request)
        except Exception as exc:  # classified here, where the SDK's exception is; the decision travels
            answer((call_id, False, provider.classify(exc)))
        else:
            answer((call_id, True, completion))

    answer((0, True, "ready"))
    flush()
    try:
        while True:
            try:
                head = await reader.readexactly(_HEADER_SIZE)
            except asyncio.IncompleteReadError:
                return  # the parent closed stdin: done
            call_id, request = pickle.loads(await reader.readexactly(int.from_bytes(head, "big")))
            task = asyncio.create_task(one(call_id, request))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await provider.aclose()


def _provider(spec: Any, api_key: str | None, base_url: str | None, max_connections: int) -> Provider:
    from agent_eval.providers.registry import _factory

    factory = _factory(spec.provider)
    provider: Provider = factory(spec, max_connections=max_connections, api_key=api_key, base_url=base_url)
    return provider


async def _main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames on the pipe
    await _serve(reader, out)


def main() -> None:
    asyncio.run(_main())


if __name__ == "__main__":
    main()
