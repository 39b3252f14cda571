"""The worker process that runs `python:` checks: `python -m agent_eval.checks._worker`.

It speaks length-prefixed pickle frames on the stdin/stdout it was started with, which it
keeps for itself: the user's code sees /dev/null as stdin and our stderr as stdout, so a
`print()` in a check cannot corrupt the protocol. Requests are `(ref, base_dir, run, config)`; each
answer is a `CallOutcome` holding the function's raw return value (the parent interprets it).
SIGINT is ignored (Ctrl-C in a terminal reaches the whole process group; the parent decides),
and the worker ends when the parent closes its stdin or kills it.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["HEADER", "main", "read_frame", "write_frame"]

HEADER = struct.Struct(">I")


def read_frame(stream: IO[bytes]) -> Any:
    """One pickled object, or None at end of stream."""
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    (size,) = HEADER.unpack(head)
    return pickle.loads(stream.read(size))


def write_frame(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def _private_streams() -> tuple[IO[bytes], IO[bytes]]:
    """Our own copies of stdin/stdout; fd 0 becomes /dev/null and fd 1 our stderr."""
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    answers = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return requests, answers


def _answer(functions: dict[tuple[str, str], Callable[..., Any] | str], request: tuple[Any, ...]) -> Any:
    from agent_eval.checks.base import CheckSpecError
    from agent_eval.checks.python import CallOutcome, call_user, import_function

    ref, base_dir, run, *rest = request
    config = rest[0] if rest else None
    function = functions.get((ref, base_dir))
    if function is None:
        try:
            function = import_function(ref, Path(base_dir))
        except CheckSpecError as exc:
            function = str(exc)
        functions[(ref, base_dir)] = function
    if isinstance(function, str):
        return CallOutcome(problem=function)
    return call_user(function, run, config)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests, answers = _private_streams()
    write_frame(answers, "ready")
    functions: dict[tuple[str, str], Callable[..., Any] | str] = {}
    while True:
        try:
            request = read_frame(requests)
        except Exception as exc:  # a frame we cannot read: the parent sees the worker end
            print(f"agent-eval check worker: unreadable request: {exc}", file=sys.stderr)
            return
        if request is None:
            return
        outcome = _answer(functions, request)
        try:
            write_frame(answers, outcome)
        except Exception:  # the return value does not pickle: describe it instead
            from agent_eval.checks.python import CallOutcome

            kind = type(outcome.returned).__name__
            write_frame(answers, CallOutcome(problem=f"returned a {kind}, which cannot be sent back; expected bool, "
                                                   "a score, (bool, reason) or a dict"))


if __name__ == "__main__":
    main()
