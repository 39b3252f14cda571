"""Checks on the output text: equals, contains, icontains, contains_any, contains_all,
starts_with, regex and length.

`equals` compares with surrounding whitespace stripped from both sides and `starts_with`
ignores leading whitespace of the output; the other checks look at the output as it is.
`ends_with` ignores trailing whitespace.
`equals`, `contains`, `icontains`, `starts_with`, `ends_with`, `contains_any` and `contains_all` take `normalize:`
(true, or a list of `case`, `punctuation`, `articles`, `whitespace`, applied in that order to both sides: Inspect's
exact()/match() normalisation). `regex` searches with Python `re` syntax, run by the `regex` package so that a pattern that
backtracks without end is stopped at the check's time limit (see `agent_eval.userregex`); its primary form is
`regex: {pattern: "...", flags: "im"}` (the short form `regex: "..."` and a sibling `flags:` key
are also accepted).
"""

from __future__ import annotations

import dataclasses
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import regex

from agent_eval.checks._util import (
    QUOTE_LIMIT,
    RawCheck,
    around,
    expect_keys,
    expect_mapping,
    expect_str,
    expect_str_list,
    non_negative_int,
    output_start,
    quote,
)
from agent_eval.checks.base import CheckInput, CheckSpecError, Reason
from agent_eval.userregex import Pattern, compile_user_regex, regex_error, search

__all__ = [
    "NORMALIZE_STEPS",
    "REGEX_FLAGS",
    "Limits",
    "Normalized",
    "compile_length",
    "compile_regex",
    "compile_str",
    "compile_str_list",
    "eval_contains",
    "eval_contains_all",
    "eval_contains_any",
    "eval_ends_with",
    "eval_equals",
    "eval_icontains",
    "eval_length",
    "eval_regex",
    "eval_starts_with",
]

# Letters accepted in `flags:`, after Python's inline flags (?imsxa).
REGEX_FLAGS: dict[str, int] = {
    "i": regex.IGNORECASE,
    "m": regex.MULTILINE,
    "s": regex.DOTALL,
    "x": regex.VERBOSE,
    "a": regex.ASCII,
}


NORMALIZE_STEPS = ("case", "punctuation", "articles", "whitespace")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b", re.IGNORECASE)
_PUNCTUATION = str.maketrans("", "", string.punctuation + "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00bf\u00a1")


@dataclass(frozen=True, slots=True)
class Normalized:
    """A text check's argument with the normalisation steps applied to it and to the output."""

    value: str | tuple[str, ...]
    steps: tuple[str, ...]


def normalize(text: str, steps: tuple[str, ...]) -> str:
    """The text lower-cased, without punctuation or articles, whitespace collapsed (the steps given, in order)."""
    if "case" in steps:
        text = text.casefold()
    if "punctuation" in steps:
        text = text.translate(_PUNCTUATION)
    if "articles" in steps:
        text = _ARTICLES.sub(" ", text)
    if "whitespace" in steps:
        text = " ".join(text.split())
    return text


def _normalize_option(raw: RawCheck) -> tuple[str, ...]:
    value = raw.options.get("normalize", False)
    if value is True:
        return NORMALIZE_STEPS
    if value is False:
        return ()
    steps = value if isinstance(value, list) else [value]
    for step in steps:
        if step not in NORMALIZE_STEPS:
            raise CheckSpecError(f"normalize is true or a list of {', '.join(NORMALIZE_STEPS)}; got {step!r}",
                                 key="normalize")
    if not steps:
        raise CheckSpecError(f"normalize is true or a list of {', '.join(NORMALIZE_STEPS)}; got []", key="normalize")
    return tuple(step for step in NORMALIZE_STEPS if step in steps)


def compile_str(raw: RawCheck) -> str | Normalized:
    """The argument of equals, contains, icontains and starts_with: a non-empty string (and `normalize:`)."""
    value = expect_str(raw.value, raw.name)
    steps = _normalize_option(raw)
    return Normalized(normalize(value, steps), steps) if steps else value


def compile_str_list(raw: RawCheck) -> tuple[str, ...] | Normalized:
    """The argument of contains_any and contains_all: a non-empty list of strings (and `normalize:`)."""
    values = expect_str_list(raw.value, raw.name)
    steps = _normalize_option(raw)
    return Normalized(tuple(normalize(v, steps) for v in values), steps) if steps else values


Evaluator = Callable[[Any, CheckInput], tuple[bool, str]]


def _normalizing(evaluate: Evaluator) -> Evaluator:
    """Evaluate on the normalised output when the argument says so; the reason names the steps."""

    def wrapper(arg: Any, run: CheckInput) -> tuple[bool, str]:
        if not isinstance(arg, Normalized):
            return evaluate(arg, run)
        passed, reason = evaluate(arg.value, dataclasses.replace(run, output=normalize(run.output, arg.steps)))
        note = f" (normalised: {', '.join(arg.steps)})"
        if isinstance(reason, Reason):
            return passed, Reason(reason + note, reason.negated + note)
        return passed, reason + note

    wrapper.__doc__ = evaluate.__doc__
    return wrapper


@_normalizing
def eval_equals(expected: str, run: CheckInput) -> tuple[bool, str]:
    """The output equals the text, surrounding whitespace ignored."""
    got = run.output.strip()
    want = expected.strip()
    if got == want:
        return True, Reason(f"output equals {quote(want)}", f"expected output != {quote(want)}; it is equal")
    pairs = enumerate(zip(got, want, strict=False))
    differ = next((i for i, (a, b) in pairs if a != b), min(len(got), len(want)))
    where = f" (first difference at char {differ})" if differ else ""
    return False, Reason(
        f"expected output == {quote(want)}; got {quote(got)}{where}",
        f"output differs from {quote(want)} (got {quote(got)})",
    )


def _find(needle: str, run: CheckInput, *, ignore_case: bool) -> tuple[bool, str]:
    text = run.output
    match = re.search(re.escape(needle), text, re.IGNORECASE if ignore_case else 0)
    case = " (ignoring case)" if ignore_case else ""
    if match is None:
        return False, Reason(
            f"expected {quote(needle)} in output{case}; not found ({output_start(text)})",
            f"{quote(needle)} not in output{case}",
        )
    where = f"at char {match.start()}: {around(text, match.start(), match.end())}"
    return True, Reason(
        f"found {quote(needle)}{case} {where}",
        f"expected {quote(needle)} not in output{case}; found {where}",
    )


@_normalizing
def eval_contains(needle: str, run: CheckInput) -> tuple[bool, str]:
    """The output contains the text (case-sensitive)."""
    return _find(needle, run, ignore_case=False)


@_normalizing
def eval_icontains(needle: str, run: CheckInput) -> tuple[bool, str]:
    """The output contains the text, ignoring case."""
    return _find(needle, run, ignore_case=True)


def _list(items: tuple[str, ...]) -> str:
    shown = ", ".join(quote(item, limit=30) for item in items[:5])
    more = f", … ({len(items) - 5} more)" if len(items) > 5 else ""
    return f"[{shown}{more}]"


@_normalizing
def eval_contains_any(needles: tuple[str, ...], run: CheckInput) -> tuple[bool, str]:
    """At least one of the texts is in the output."""
    text = run.output
    for needle in needles:
        start = text.find(needle)
        if start >= 0:
            where = f"{quote(needle)} at char {start}: {around(text, start, start + len(needle))}"
            return True, Reason(
                f"found {where}",
                f"expected none of {_list(needles)} in output; found {where}",
            )
    return False, Reason(
        f"expected any of {_list(needles)} in output; none found ({output_start(text)})",
        f"none of {_list(needles)} in output",
    )


@_normalizing
def eval_contains_all(needles: tuple[str, ...], run: CheckInput) -> tuple[bool, str]:
    """Every one of the texts is in the output."""
    missing = tuple(needle for needle in needles if needle not in run.output)
    if not missing:
        return True, Reason(
            f"found all {len(needles)} of {_list(needles)}",
            f"expected not all of {_list(needles)} in output; all {len(needles)} found",
        )
    return False, Reason(
        f"expected all of {_list(needles)} in output; missing {_list(missing)}",
        f"not all of {_list(needles)} in output; missing {_list(missing)}",
    )


@_normalizing
def eval_ends_with(suffix: str, run: CheckInput) -> tuple[bool, str]:
    """The output, trailing whitespace ignored, ends with the text (Inspect's match(), its default location)."""
    text = run.output.rstrip()
    if text.endswith(suffix):
        return True, Reason(f"output ends with {quote(suffix)}",
                            f"expected output not to end with {quote(suffix)}; it does")
    tail = quote(text[-QUOTE_LIMIT:]) if text else "output is empty"
    return False, Reason(f"expected output to end with {quote(suffix)}; it ends {tail}",
                         f"output does not end with {quote(suffix)}")


@_normalizing
def eval_starts_with(prefix: str, run: CheckInput) -> tuple[bool, str]:
    """The output, leading whitespace ignored, starts with the text."""
    text = run.output.lstrip()
    if text.startswith(prefix):
        return True, Reason(
            f"output starts with {quote(prefix)}",
            f"expected output not to start with {quote(prefix)}; it does",
        )
    return False, Reason(
        f"expected output to start with {quote(prefix)}; {output_start(text)}",
        f"output does not start with {quote(prefix)}",
    )


def _flags(value: object, key: str) -> int:
    letters = expect_str(value, key, hint=f" of flag letters ({''.join(REGEX_FLAGS)})")
    flags = 0
    for letter in letters:
        if letter not in REGEX_FLAGS:
            raise CheckSpecError(
                f'unknown regex flag "{letter}"; use letters from "{"".join(REGEX_FLAGS)}"', key=key
            )
        flags |= REGEX_FLAGS[letter]
    return flags


def compile_regex(raw: RawCheck) -> Pattern:
    """`regex: {pattern: "pat", flags: "im"}`; also `regex: "pat"`, with an optional sibling `flags:`."""
    value, pattern_key, flags_value = raw.value, raw.name, raw.options.get("flags")
    if isinstance(value, Mapping):
        expect_keys(value, ("pattern", "flags"), owner=raw.name)
        if "pattern" not in value:
            raise CheckSpecError('missing pattern: write {pattern: "...", flags: "i"}', key=raw.name)
        if "flags" in value and "flags" in raw.options:
            raise CheckSpecError("flags given twice, inside and next to the check", key="flags")
        value, pattern_key = value["pattern"], "pattern"
        flags_value = raw.value.get("flags", flags_value)
    flags = _flags(flags_value, "flags") if flags_value is not None else 0
    pattern = expect_str(value, pattern_key, hint=" (a regular expression)")
    try:
        return compile_user_regex(pattern, flags)
    except regex_error as exc:
        raise CheckSpecError(f"invalid regular expression {quote(pattern)}: {exc}", key=pattern_key) from exc


def _show(pattern: Pattern) -> str:
    letters = "".join(letter for letter, flag in REGEX_FLAGS.items() if pattern.flags & flag)
    body = pattern.pattern if len(pattern.pattern) <= 40 else pattern.pattern[:39] + "…"
    return f"/{body}/{letters}"


def eval_regex(pattern: Pattern, run: CheckInput) -> tuple[bool, str]:
    """The pattern is found in the output (a bounded search)."""
    text = run.output
    match = search(pattern, text)
    if match is None:
        return False, Reason(
            f"expected a match for {_show(pattern)}; none ({output_start(text)})",
            f"no match for {_show(pattern)}",
        )
    where = f"at char {match.start()}: {around(text, match.start(), match.end())}"
    return True, Reason(
        f"matched {_show(pattern)} {where}",
        f"expected no match for {_show(pattern)}; matched {where}",
    )


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on the stripped output's length; None means unbounded."""

    min_chars: int | None = None
    max_chars: int | None = None
    min_words: int | None = None
    max_words: int | None = None


def compile_length(raw: RawCheck) -> Limits:
    """`length: {min_chars, max_chars, min_words, max_words}`, at least one of them."""
    hint = "{min_chars: 10, max_chars: 500}"
    value = expect_mapping(raw.value, raw.name, hint=hint)
    expect_keys(value, Limits.__slots__, owner=raw.name)
    if not value:
        raise CheckSpecError(f"give at least one bound, e.g. {hint}", key=raw.name)
    bounds = {key: non_negative_int(v, key) for key, v in value.items()}
    limits = Limits(**bounds)
    for unit in ("chars", "words"):
        low, high = getattr(limits, f"min_{unit}"), getattr(limits, f"max_{unit}")
        if low is not None and high is not None and low > high:
            raise CheckSpecError(f"min_{unit} {low} is greater than max_{unit} {high}", key=f"min_{unit}")
    return limits


def eval_length(limits: Limits, run: CheckInput) -> tuple[bool, str]:
    """The stripped output's character and word counts are within the bounds."""
    text = run.output.strip()
    counts = {"chars": len(text), "words": len(text.split())}
    problems: list[str] = []
    for unit, count in counts.items():
        low, high = getattr(limits, f"min_{unit}"), getattr(limits, f"max_{unit}")
        if low is not None and count < low:
            problems.append(f"{count} {unit} < min {low} {unit}")
        if high is not None and count > high:
            problems.append(f"{count} {unit} > max {high} {unit}")
    if problems:
        return False, "; ".join(problems)
    return True, f"{counts['chars']} chars, {counts['words']} words; within limits"
