"""Read a judge's reply tolerantly: code fences and text around the JSON are fine, a missing score is not."""

from __future__ import annotations

import re

from agent_eval.untrusted import parse_json

__all__ = ["JudgeError", "JudgeReplyError", "fence_untrusted", "parse_reply"]

_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)
_SCORE = re.compile(r'"score"\s*:\s*(-?\d+(?:\.\d+)?)')
_MARKER = re.compile(r"<<<\s*(END\s+)?(CANDIDATE|CONTEXT)[^>]*>>>", re.IGNORECASE)


class JudgeError(Exception):
    """The judge could not grade a run (failed call or unparseable reply)."""


class JudgeReplyError(ValueError):
    """The reply holds no usable score."""


def fence_untrusted(text: str) -> str:
    """Neutralise the delimiters inside candidate output so it cannot close its own fence."""
    return _MARKER.sub(lambda m: m.group(0).replace("<<<", "<‹<").replace(">>>", ">›>"), text)


def parse_reply(reply: str, scale: tuple[int, int]) -> tuple[float, str]:
    """The (score, reasoning) of the last JSON object with a score; the score must be on the scale."""
    low, high = scale
    for candidate in reversed(_OBJECT.findall(reply)):
        try:
            data = parse_json(candidate)
        except ValueError:  # not JSON, or nested too deeply
            continue
        if isinstance(data, dict) and "score" in data:
            return _on_scale(data["score"], low, high), str(data.get("reasoning", ""))
    match = None
    for match in _SCORE.finditer(reply):
        pass
    if match is not None:
        return _on_scale(float(match.group(1)), low, high), ""
    snippet = " ".join(reply[:400].split())[:80]
    raise JudgeReplyError(f"no JSON score in the judge's reply: {snippet!r}")


def _on_scale(value: object, low: int, high: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise JudgeReplyError(f"score {value!r} is not a number")
    if not low <= value <= high:
        raise JudgeReplyError(f"score {value} is outside the scale [{low}, {high}]")
    return float(value)
