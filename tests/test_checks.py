"""The deterministic checks: every check and its not_ form, reasons, weights and load-time errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent_eval.checks import (
    CHECKS,
    REFUSAL_PHRASES,
    Check,
    CheckInput,
    CheckSpecError,
    Reason,
    check_names,
    compile_check,
    find_refusal,
    is_refusal,
)
from agent_eval.records import CheckResult, ToolCall, Usage
from agent_eval.suite.case import Case

CASE = Case(id="c1", input="Where is my refund for order 1234?")
HERE = Path(__file__).parent
LONG = "The refund for 12 dollars was issued on Monday and should arrive within five business days."


def run(raw: dict[str, Any], output: str = "", base_dir: Path = HERE, **run_fields: Any) -> CheckResult:
    """Compile one check item and apply it to a run with this output."""
    check = compile_check(raw, base_dir=base_dir)
    return check.run(CheckInput(output=output, case=CASE, **run_fields))


def spec_error(raw: Any, base_dir: Path = HERE) -> CheckSpecError:
    with pytest.raises(CheckSpecError) as info:
        compile_check(raw, base_dir=base_dir)
    return info.value


# (check item, output, passed, text the reason must contain)
TEXT_CASES = [
    ({"equals": "ok"}, "  ok\n", True, 'output equals "ok"'),
    ({"equals": "ok"}, "okay", False, 'expected output == "ok"; got "okay" (first difference at char 2)'),
    ({"equals": "yes"}, "no", False, 'expected output == "yes"; got "no"'),
    ({"not_equals": "ok"}, "okay", True, 'output differs from "ok" (got "okay")'),
    ({"not_equals": "ok"}, "ok", False, 'expected output != "ok"; it is equal'),
    ({"contains": "1234"}, "Order 1234 shipped", True, 'found "1234" at char 6: "Order 1234 shipped"'),
    ({"contains": "1234"}, LONG, False, 'expected "1234" in output; not found (output starts "The refund for 12'),
    ({"not_contains": "1234"}, "Order 12 shipped", True, '"1234" not in output'),
    ({"not_contains": "1234"}, "Order 1234 shipped", False, 'expected "1234" not in output; found at char 6'),
    ({"contains": "Refund"}, "your refund", False, 'expected "Refund" in output; not found'),
    ({"icontains": "REFUND"}, "your refund", True, 'found "REFUND" (ignoring case) at char 5: "your refund"'),
    ({"icontains": "REFUND"}, "your order", False, 'expected "REFUND" in output (ignoring case); not found'),
    ({"not_icontains": "as an ai"}, "Sure, here it is.", True, '"as an ai" not in output (ignoring case)'),
    ({"not_icontains": "as an ai"}, "As an AI, I", False, 'expected "as an ai" not in output (ignoring case); found'),
    ({"contains_any": ["pending", "processed"]}, "it is processed", True, 'found "processed" at char 6'),
    ({"contains_any": ["pending", "processed"]}, "no idea", False,
     'expected any of ["pending", "processed"] in output; none found (output starts "no idea")'),
    ({"not_contains_any": ["sorry", "apolog"]}, "Done.", True, 'none of ["sorry", "apolog"] in output'),
    ({"not_contains_any": ["sorry", "apolog"]}, "We apologize", False,
     'expected none of ["sorry", "apolog"] in output; found "apolog" at char 3'),
    ({"contains_all": ["1234", "refund"]}, "refund 1234", True, 'found all 2 of ["1234", "refund"]'),
    ({"contains_all": ["1234", "refund", "eta"]}, "refund 1234", False,
     'expected all of ["1234", "refund", "eta"] in output; missing ["eta"]'),
    ({"not_contains_all": ["a", "b"]}, "a only", True, 'not all of ["a", "b"] in output; missing ["b"]'),
    ({"not_contains_all": ["a", "b"]}, "a and b", False, 'expected not all of ["a", "b"] in output; all 2 found'),
    ({"starts_with": "Hello"}, "\n Hello there", True, 'output starts with "Hello"'),
    ({"starts_with": "Hello"}, "Hi there", False, 'expected output to start with "Hello"; output starts "Hi there"'),
    ({"not_starts_with": "Sorry"}, "Sure", True, 'output does not start with "Sorry"'),
    ({"not_starts_with": "Sorry"}, "Sorry, no", False, 'expected output not to start with "Sorry"; it does'),
    ({"regex": "refund .* (pending|processed)"}, "your refund is pending", True,
     'matched /refund .* (pending|processed)/ at char 5: "your refund is pending"'),
    ({"regex": r"\d{4}"}, "no digits", False, r'expected a match for /\d{4}/; none (output starts "no digits")'),
    ({"regex": {"pattern": "^ok", "flags": "im"}}, "fine\nOK then", True, 'matched /^ok/im at char 5'),
    ({"regex": "^ok", "flags": "i"}, "OK", True, "matched /^ok/i at char 0"),
    ({"regex": "^ok"}, "OK", False, "expected a match for /^ok/; none"),
    ({"regex": {"pattern": "a.b", "flags": "s"}}, "a\nb", True, "matched /a.b/s"),
    ({"not_regex": "(?i)error"}, "all good", True, "no match for /(?i)error/i"),
    ({"not_regex": "error"}, "an error here", False,
     'expected no match for /error/; matched at char 3: "an error here"'),
    ({"length": {"min_chars": 2, "max_chars": 10}}, "  hello  ", True, "5 chars, 1 words; within limits"),
    ({"length": {"max_chars": 3}}, "hello", False, "5 chars > max 3 chars"),
    ({"length": {"min_chars": 10}}, "hello", False, "5 chars < min 10 chars"),
    ({"length": {"min_words": 2, "max_words": 3}}, "one two", True, "7 chars, 2 words; within limits"),
    ({"length": {"min_words": 3}}, "one two", False, "2 words < min 3 words"),
    ({"length": {"min_chars": 20, "max_words": 1}}, "one two", False, "7 chars < min 20 chars; 2 words > max 1 words"),
]


@pytest.mark.parametrize(("raw", "output", "passed", "reason"), TEXT_CASES)
def test_text_checks(raw: dict[str, Any], output: str, passed: bool, reason: str) -> None:
    result = run(raw, output)
    assert (result.passed, result.name) == (passed, next(iter(raw)))
    assert reason in result.reason
    assert "\n" not in result.reason and type(result.reason) is str


def test_reasons_quote_at_most_about_60_characters_of_output() -> None:
    result = run({"contains": "zebra"}, "x" * 500 + "\nsecond line")
    assert not result.passed
    assert result.reason == f'expected "zebra" in output; not found (output starts "{"x" * 59}…")'
    hit = run({"contains": "zebra"}, "y" * 300 + "zebra" + "y" * 300)
    assert hit.reason.startswith('found "zebra" at char 300: "…') and len(hit.reason) < 110


def test_empty_output_is_named() -> None:
    assert run({"starts_with": "Hi"}, "  ").reason == 'expected output to start with "Hi"; output is empty'


# --- json and json_path -----------------------------------------------------------------------

SCHEMA = {"type": "object", "required": ["status"], "properties": {"status": {"enum": ["pending", "done"]}}}


@pytest.mark.parametrize(
    ("raw", "output", "passed", "reason"),
    [
        ({"json": True}, ' {"a": 1}\n', True, "output is valid JSON (an object)"),
        ({"json": True}, "[1, 2]", True, "output is valid JSON (an array)"),
        ({"json": True}, '```json\n{"a": 1}\n```', False,
         'expected JSON; invalid: Expecting value at line 1 col 1 (output starts "```json\\n{\\"a\\": 1}\\n```")'),
        ({"json": True}, '{"a": 1', False, "expected JSON; invalid: Expecting ',' delimiter at line 1 col 8"),
        ({"json": {"schema": SCHEMA}}, '{"status": "pending"}', True, "output is JSON matching schema"),
        ({"json": {"schema": SCHEMA}}, '{"state": "pending"}', False,
         "expected JSON matching schema; at $: 'status' is a required property"),
        ({"json": {"schema": SCHEMA}}, '{"status": "lost"}', False,
         "expected JSON matching schema; at $.status: 'lost' is not one of ['pending', 'done']"),
        ({"json": {"schema": SCHEMA}}, "not json", False, "expected JSON; invalid: Expecting value"),
    ],
)
def test_json(raw: dict[str, Any], output: str, passed: bool, reason: str) -> None:
    result = run(raw, output)
    assert result.passed is passed
    assert reason in result.reason


def test_json_schema_file_is_relative_to_the_suite_folder(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "order.json").write_text(json.dumps(SCHEMA))
    (tmp_path / "schemas" / "order.yaml").write_text("type: object\nrequired: [id]\n")
    good = run({"json": {"schema_file": "schemas/order.json"}}, '{"status": "done"}', base_dir=tmp_path)
    assert good.passed and good.reason == "output is JSON matching schemas/order.json"
    bad = run({"json": {"schema_file": "schemas/order.yaml"}}, '{"status": "done"}', base_dir=tmp_path)
    assert not bad.passed
    assert bad.reason == "expected JSON matching schemas/order.yaml; at $: 'id' is a required property"


@pytest.mark.parametrize(
    ("raw", "output", "passed", "reason"),
    [
        ({"json_path": {"path": "$.status", "equals": "pending"}}, '{"status": "pending"}', True,
         '$.status == "pending" (found "pending")'),
        ({"json_path": {"path": "$.status", "equals": "pending"}}, '{"status": "processed"}', False,
         'expected $.status == "pending"; found "processed"'),
        ({"json_path": {"path": "$.status", "equals": "pending"}}, '{"state": 1}', False,
         'expected $.status == "pending"; $.status not found'),
        ({"json_path": {"path": "$.status", "equals": "pending"}}, "Pending!", False,
         'expected $.status == "pending"; output is not JSON: Expecting value at line 1 col 1'),
        ({"json_path": {"path": "$.ok", "equals": 1}}, '{"ok": true}', False, "expected $.ok == 1; found true"),
        ({"json_path": {"path": "$.n", "equals": 2}}, '{"n": 2.0}', True, "$.n == 2 (found 2.0)"),
        ({"json_path": {"path": "$.items[*].sku", "equals": "B"}}, '{"items": [{"sku": "A"}, {"sku": "B"}]}',
         True, '$.items[*].sku == "B" (found "B")'),
        ({"json_path": {"path": "$.items[?(@.qty > 1)].sku", "equals": "B"}},
         '{"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 3}]}', True, '(found "B")'),
        ({"json_path": {"path": "$.items[*].sku", "equals": "C"}}, '{"items": [{"sku": "A"}, {"sku": "B"}]}',
         False, 'expected $.items[*].sku == "C"; found ["A","B"]'),
        ({"json_path": {"path": "$.id", "matches": "^ord_\\d+$"}}, '{"id": "ord_42"}', True,
         '$.id matching /^ord_\\d+$/ (found "ord_42")'),
        ({"json_path": {"path": "$.id", "matches": "^ord_"}}, '{"id": 42}', False,
         "expected $.id matching /^ord_/; found 42"),
        ({"json_path": {"path": "$.total", "matches": "^4"}}, '{"total": 42}', True, "(found 42)"),
        ({"json_path": "$.status"}, '{"status": null}', True, "a value at $.status (found null)"),
        ({"json_path": "$.status"}, "{}", False, "expected a value at $.status; $.status not found"),
        ({"not_json_path": {"path": "$.status", "equals": "error"}}, '{"status": "ok"}', True,
         '$.status != "error" (found "ok")'),
        ({"not_json_path": {"path": "$.status", "equals": "error"}}, '{"status": "error"}', False,
         'expected $.status != "error"; found "error"'),
        ({"not_json_path": "$.debug"}, '{"status": 1}', True, "$.debug not found"),
        ({"not_json_path": "$.debug"}, '{"debug": [1]}', False, "expected no value at $.debug; found [1]"),
    ],
)
def test_json_path(raw: dict[str, Any], output: str, passed: bool, reason: str) -> None:
    result = run(raw, output)
    assert result.passed is passed
    assert reason in result.reason


# --- latency, tokens, cost ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "fields", "passed", "reason"),
    [
        ({"max_latency_ms": 2000}, {"latency_ms": 2350.4}, False, "latency 2350 ms > max 2000 ms"),
        ({"max_latency_ms": 2000}, {"latency_ms": 1999.0}, True, "latency 1999 ms <= max 2000 ms"),
        ({"max_latency_ms": 2000}, {}, False, "latency unknown (not recorded for this run); cannot verify max 2000 ms"),
        ({"max_tokens": 300}, {"tokens": Usage(input_tokens=900, output_tokens=301)}, False,
         "output tokens 301 > max 300"),
        ({"max_tokens": 300}, {"tokens": Usage(input_tokens=900, output_tokens=300)}, True,
         "output tokens 300 <= max 300"),
        ({"max_cost_usd": 0.01}, {"cost_usd": 0.0234}, False, "cost $0.0234 > max $0.01"),
        ({"max_cost_usd": 0.01}, {"cost_usd": 0.0009}, True, "cost $0.0009 <= max $0.01"),
        ({"max_cost_usd": 0.01}, {}, False, "cost unknown (no price for this model); cannot verify max $0.01"),
    ],
)
def test_metric_limits(raw: dict[str, Any], fields: dict[str, Any], passed: bool, reason: str) -> None:
    result = run(raw, "out", **fields)
    assert (result.passed, result.reason) == (passed, reason)


# --- refusal --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I can't help with that request.",
        "I can\u2019t help with that.",
        "I CANNOT ASSIST with this.",
        "I can not assist you there.",
        "I'm sorry, but I can't do that.",
        "I am sorry, but I cannot share it.",
        "As an AI language model, I have no opinions.",
        "I am unable to  process refunds.",
        "Unfortunately I'm not able to do this.",
    ],
)
def test_is_refusal_detects_refusals(text: str) -> None:
    assert is_refusal(text)


@pytest.mark.parametrize(
    "text",
    ["Your refund is pending.", "I can help with that!", "Use it as an aid to memory.", "Sorry for the wait.", ""],
)
def test_is_refusal_ignores_ordinary_answers(text: str) -> None:
    assert not is_refusal(text)


def test_refusal_phrases_are_a_documented_constant() -> None:
    assert isinstance(REFUSAL_PHRASES, tuple)
    for phrase in ("I can't help with", "I cannot assist", "I'm sorry, but I can't", "as an AI", "I am unable to"):
        assert phrase in REFUSAL_PHRASES
        assert is_refusal(f"Well. {phrase.upper()} it.")
    assert find_refusal("Sorry, I CANNOT assist.") == "i can't assist"


@pytest.mark.parametrize(
    ("must", "output", "passed", "reason"),
    [
        (True, "I'm sorry, but I can't help.", True, "refusal detected: \"i'm sorry, but i can't\""),
        (True, "Here is the exploit.", False,
         'expected a refusal; none detected (output starts "Here is the exploit.")'),
        (False, "Your order ships today.", True, "no refusal detected"),
        (False, "Well, I can't help with that.", False, 'expected no refusal; found "i can\'t help with"'),
    ],
)
def test_refusal_check(must: bool, output: str, passed: bool, reason: str) -> None:
    result = run({"refusal": must}, output)
    assert (result.passed, result.reason) == (passed, reason)


# --- tool calls -------------------------------------------------------------------------------

CALLS = (
    ToolCall(id="1", name="search", arguments='{"q": "refund"}'),
    ToolCall(id="2", name="lookup_order", arguments='{"order_id": "1234", "opts": {"verbose": true, "n": 2}}'),
)


@pytest.mark.parametrize(
    ("raw", "calls", "passed", "reason"),
    [
        ({"tool_called": {"name": "lookup_order", "args": {"order_id": "1234"}}}, CALLS, True,
         'called lookup_order({"opts":{"n":2,"verbose":true},"order_id":"1234"})'),
        ({"tool_called": {"name": "lookup_order", "args": {"opts": {"verbose": True}}}}, CALLS, True,
         "called lookup_order"),
        ({"tool_called": {"name": "lookup_order", "args": {"opts": {"verbose": 1}}}}, CALLS, False,
         'expected a call to lookup_order with {"opts":{"verbose":1}}; got search({"q":"refund"}), lookup_order('),
        ({"tool_called": {"name": "lookup_order", "args": {"order_id": 1234}}}, CALLS, False,
         'expected a call to lookup_order with {"order_id":1234}'),
        ({"tool_called": "lookup_order"}, CALLS, True, "called lookup_order("),
        ({"tool_called": "refund"}, (), False, "expected a call to refund; got no tool calls"),
        ({"tool_called": "raw"}, (ToolCall(name="raw", arguments="not json"),), True, "called raw(not json)"),
        ({"not_tool_called": {"name": "delete_account"}}, CALLS, True,
         'no call to delete_account (search({"q":"refund"}), lookup_order('),
        ({"not_tool_called": {"name": "search", "args": {"q": "refund"}}}, CALLS, False,
         'expected no call to search with {"q":"refund"}; called search({"q":"refund"})'),
    ],
)
def test_tool_called(raw: dict[str, Any], calls: tuple[ToolCall, ...], passed: bool, reason: str) -> None:
    result = run(raw, "done", tool_calls=calls)
    assert result.passed is passed
    assert reason in result.reason


# --- user python checks -----------------------------------------------------------------------

USER_MODULE = '''
from helper_words import POLITE

def is_polite(output, case, run):
    return any(word in output.lower() for word in POLITE)

def with_reason(output, case, run):
    return len(output) < 5, f"{len(output)} chars for case {case.id}"

def uses_run(output, case, run):
    return run.latency_ms is not None and run.latency_ms < 100

def boom(output, case, run):
    raise ValueError("cannot judge this\\nsecond line")

def not_a_bool(output, case, run):
    return "yes"

NOT_CALLABLE = 3
'''


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    (tmp_path / "polite_checks.py").write_text(USER_MODULE)
    (tmp_path / "helper_words.py").write_text("POLITE = ('please', 'thank')\n")
    return tmp_path


@pytest.mark.parametrize(
    ("ref", "output", "fields", "passed", "reason"),
    [
        ("is_polite", "Thank you!", {}, True, "polite_checks:is_polite returned True"),
        ("is_polite", "No.", {}, False, "polite_checks:is_polite returned False"),
        ("with_reason", "hi", {}, True, "2 chars for case c1"),
        ("with_reason", "hello there", {}, False, "11 chars for case c1"),
        ("uses_run", "x", {"latency_ms": 50.0}, True, "polite_checks:uses_run returned True"),
        ("uses_run", "x", {}, False, "polite_checks:uses_run returned False"),
        ("boom", "x", {}, False, "polite_checks:boom raised ValueError: cannot judge this"),
        ("not_a_bool", "x", {}, False, ("polite_checks:not_a_bool returned str; expected a bool, a score in [0, 1], "
                                        "(bool or score, reason) or {pass, score, reason, named_scores}")),
    ],
)
def test_python_check(
    user_dir: Path, ref: str, output: str, fields: dict[str, Any], passed: bool, reason: str
) -> None:
    before = list(sys.path)
    result = run({"python": f"polite_checks:{ref}"}, output, base_dir=user_dir, **fields)
    assert (result.passed, result.reason) == (passed, reason)
    assert sys.path == before


def test_python_checks_of_two_suites_with_the_same_module_name(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "suite_checks.py").write_text(f"def which(o, c, r):\n    return True, {name!r}\n")
    first = run({"python": "suite_checks:which"}, base_dir=tmp_path / "a")
    second = run({"python": "suite_checks:which"}, base_dir=tmp_path / "b")
    again = run({"python": "suite_checks:which"}, base_dir=tmp_path / "a")
    assert (first.reason, second.reason, again.reason) == ("a", "b", "a")
    assert str(tmp_path / "a") not in sys.path and str(tmp_path / "b") not in sys.path


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("polite_checks", 'expected "module:function" (e.g. "my_checks:is_polite"), got "polite_checks"'),
        ("__import__('os').system('true')", 'expected "module:function"'),
        ("missing_module_xyz:f", "cannot import missing_module_xyz from "),
        ("polite_checks:nope", "module polite_checks has no function nope; it defines: boom, is_polite"),
        ("polite_checks:NOT_CALLABLE", "polite_checks:NOT_CALLABLE is not a function (it is int)"),
        ("broken_checks:f", "importing broken_checks raised ZeroDivisionError: division by zero"),
    ],
)
def test_python_check_load_errors(user_dir: Path, ref: str, message: str) -> None:
    (user_dir / "broken_checks.py").write_text("x = 1 / 0\n")
    error = spec_error({"python": ref}, base_dir=user_dir)
    assert message in str(error)
    assert error.key == "python"


# --- weights, negation and the registry -------------------------------------------------------


@pytest.mark.parametrize(("raw_weight", "weight"), [(None, 1.0), (2, 2.0), (0.5, 0.5)])
def test_weight(raw_weight: float | None, weight: float) -> None:
    raw: dict[str, Any] = {"contains": "a"}
    if raw_weight is not None:
        raw["weight"] = raw_weight
    check = compile_check(raw, base_dir=HERE)
    assert check.weight == weight
    assert check.run(CheckInput(output="b", case=CASE)).weight == weight


def test_compiled_check_fields() -> None:
    check = compile_check({"not_regex": "a+", "weight": 3}, base_dir=HERE)
    assert (check.name, check.negate, check.weight, check.arg.pattern) == ("not_regex", True, 3.0, "a+")
    assert check.evaluate is CHECKS["regex"].evaluate


def test_negating_a_plain_reason_says_so() -> None:
    check = Check(name="not_custom", arg=None, evaluate=lambda arg, run: (True, "saw it"), negate=True)
    result = check.run(CheckInput(output="", case=CASE))
    assert (result.passed, result.reason) == (False, "expected the opposite of: saw it")
    assert Reason("a", "b").negated == "b" and str(Reason("a", "b")) == "a"


def test_registry_names() -> None:
    assert set(CHECKS) == {
        "equals", "contains", "icontains", "contains_any", "contains_all", "starts_with", "regex", "json",
        "json_path", "length", "max_latency_ms", "max_tokens", "max_cost_usd", "refusal", "python", "tool_called",
        "contains_json", "similar", "moderation", "any", "all", "at_least",
        "tool_sequence", "tool_args_valid", "max_steps", "max_tool_calls", "final_answer_after_tool",
        "escalated", "not_escalated", "expr", "tool_error", "ends_with",
    }
    negated = {name[4:] for name in check_names() if name.startswith("not_")}
    assert negated == {
        "equals", "contains", "icontains", "contains_any", "contains_all", "starts_with", "regex", "json_path",
        "tool_called", "contains_json", "similar", "moderation", "expr", "tool_error", "ends_with",
        "escalated",  # not_escalated is a check of its own (it fails when nothing is declared)
    }


def test_heavy_libraries_are_imported_lazily() -> None:
    code = (
        "import sys; from pathlib import Path; from agent_eval.checks import compile_check;"
        "compile_check({'contains': 'x'}, base_dir=Path('.'));"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jsonschema', 'jsonpath_ng')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- load-time errors -------------------------------------------------------------------------

SPEC_ERRORS: list[tuple[Any, str, str | None]] = [
    ("contains", 'a check is a mapping like {contains: "text"}, got a string', None),
    (["contains", "x"], "a check is a mapping like {contains: \"text\"}, got a list", None),
    ({}, "no check in this item; expected one of: equals, contains,", None),
    ({"weight": 2}, "no check in this item", None),
    ({"contains": "a", "regex": "b"}, "one check per item, found contains, regex; write each as its own list item",
     "regex"),
    ({"contians": "a"}, 'unknown check "contians"; did you mean "contains", "icontains" or "not_contains"?',
     "contians"),
    ({"rgex": "a"}, 'unknown check "rgex"; did you mean "regex" or "not_regex"?', "rgex"),
    ({"not_contians": "a"}, 'unknown check "not_contians"; did you mean "not_contains"', "not_contians"),
    ({"frobnicate": 1}, 'unknown check "frobnicate"; valid checks: equals, contains,', "frobnicate"),
    ({1: "a"}, "check keys are names, got an integer 1", "1"),
    ({"contains": ["a"]}, "expected a string, got a list", "contains"),
    ({"contains": 1234}, 'expected a string, got an integer (quote it: "1234")', "contains"),
    ({"not_equals": None}, "expected a string, got null", "not_equals"),
    ({"starts_with": ""}, "expected a non-empty string", "starts_with"),
    ({"contains_any": "a"}, "expected a list of strings, got a string", "contains_any"),
    ({"contains_all": []}, "expected a non-empty list of strings", "contains_all"),
    ({"contains_all": ["a", 2]}, "expected a list of non-empty strings; item 2 is not", "contains_all"),
    ({"regex": "(unclosed"}, 'invalid regular expression "(unclosed": missing ), unterminated subpattern', "regex"),
    ({"not_regex": "[a-"}, 'invalid regular expression "[a-": unterminated character set', "not_regex"),
    ({"regex": {"pattern": "*"}}, 'invalid regular expression "*": nothing to repeat', "pattern"),
    ({"regex": {"flags": "i"}}, "missing pattern", "regex"),
    ({"regex": "a", "timeout_s": 0}, "expected a time limit in seconds > 0, got 0", "timeout_s"),
    ({"python": "m:f", "timeout_s": "10"}, "expected a time limit in seconds > 0, got a string", "timeout_s"),
    ({"contains": "a", "timeout_s": 1}, 'unknown option "timeout_s" for contains (options: normalize, weight, metric, transform, tool_args)', "timeout_s"),
    ({"regex": {"pattern": "a", "flag": "i"}}, ('unknown option "flag" for regex (options: pattern, flags); '
     'did you mean "flags"?'), "flag"),
    ({"regex": "a", "flags": "iq"}, 'unknown regex flag "q"; use letters from "imsxa"', "flags"),
    ({"regex": "a", "flags": 1}, "expected a string of flag letters (imsxa), got an integer", "flags"),
    ({"regex": {"pattern": "a", "flags": "i"}, "flags": "m"}, "flags given twice", "flags"),
    ({"json": False}, "expected true, {schema: {...}} or {schema_file: path}, got false", "json"),
    ({"json": {"schema": {"type": "objekt"}}}, "invalid JSON Schema at $.type: 'objekt' is not valid", "schema"),
    ({"json": {"schema": ["type"]}}, "a JSON Schema must be a mapping, got list", "schema"),
    ({"json": {"schema": {}, "schema_file": "x.json"}}, "expected one of schema or schema_file; got 2", "json"),
    ({"json": {"schema_file": "no/such/schema.json"}}, "schema file not found: ", "schema_file"),
    ({"json": {"shema": {}}}, ('unknown option "shema" for json (options: schema, schema_file, extract); '
     'did you mean "schema"?'), "shema"),
    ({"json_path": {"path": "$.["}}, 'invalid JSONPath "$.[": ', "path"),
    ({"json_path": "$$"}, 'invalid JSONPath "$$": ', "json_path"),
    ({"json_path": {"equals": 1}}, 'missing path: write {path: "$.status", equals: "ok"}', "json_path"),
    ({"json_path": {"path": "$.a", "equals": 1, "matches": "x"}}, "give equals or matches, not both", "matches"),
    ({"json_path": {"path": "$.a", "matches": "("}}, 'invalid regular expression "("', "matches"),
    ({"json_path": {"path": "$.a", "equal": 1}}, 'unknown option "equal" for json_path', "equal"),
    ({"json_path": 5}, 'expected a mapping like {path: "$.status", equals: "ok"}, got an integer', "json_path"),
    ({"length": 10}, "expected a mapping like {min_chars: 10, max_chars: 500}, got an integer", "length"),
    ({"length": {}}, "give at least one bound", "length"),
    ({"length": {"min_char": 1}}, 'unknown option "min_char" for length', "min_char"),
    ({"length": {"max_words": -1}}, "expected a whole number >= 0, got -1", "max_words"),
    ({"length": {"max_chars": 2.5}}, "expected a whole number >= 0, got a number", "max_chars"),
    ({"length": {"min_chars": 9, "max_chars": 3}}, "min_chars 9 is greater than max_chars 3", "min_chars"),
    ({"max_latency_ms": "fast"}, "expected a positive number, got a string", "max_latency_ms"),
    ({"max_latency_ms": 0}, "expected a positive number, got 0", "max_latency_ms"),
    ({"max_cost_usd": -0.5}, "expected a positive number, got -0.5", "max_cost_usd"),
    ({"max_tokens": 2.5}, "expected a positive whole number of tokens, got 2.5", "max_tokens"),
    ({"max_tokens": True}, "expected a positive whole number of tokens, got a boolean", "max_tokens"),
    ({"refusal": "yes"}, 'expected true (must refuse) or false (must not refuse), got "yes"', "refusal"),
    ({"python": 3}, 'expected a string like "my_checks:is_polite", got an integer', "python"),
    ({"tool_called": ["a"]}, "expected a tool name or a mapping like {name: lookup_order,", "tool_called"),
    ({"tool_called": {"args": {}}}, "missing name: the tool that must be called", "tool_called"),
    ({"tool_called": {"name": "x", "args": ["a"]}}, "expected args to be a mapping, got a list", "args"),
    ({"tool_called": {"name": "x", "arguments": {}}}, 'unknown option "arguments" for tool_called', "arguments"),
    ({"contains": "a", "flags": "i"}, 'unknown option "flags" for contains (options: normalize, weight, metric, transform, tool_args)', "flags"),
    ({"contains": "a", "wieght": 2}, 'unknown option "wieght" for contains (options: normalize, weight, metric, transform, tool_args); did you mean "weight"?',
     "wieght"),
    ({"contains": "a", "weight": -1}, "weight must be a number >= 0 (0: informational), got -1", "weight"),
    ({"contains": "a", "weight": "2"}, "weight must be a number >= 0 (0: informational), got a string", "weight"),
    ({"contains": "a", "weight": True}, "weight must be a number >= 0 (0: informational), got a boolean", "weight"),
    ({"contains": "a", "weight": math.nan}, "weight must be a number >= 0 (0: informational), got nan", "weight"),
    ({"contains": "a", "weight": math.inf}, "weight must be a number >= 0 (0: informational), got inf", "weight"),
    ({"not_length": {"max_chars": 3}}, 'length has no "not_" form; checks that have one: equals,', "not_length"),
    ({"not_json": True}, 'json has no "not_" form', "not_json"),
    ({"not_refusal": True}, 'refusal has no "not_" form', "not_refusal"),
    ({"not_python": "m:f"}, 'python has no "not_" form', "not_python"),
    ({"not_max_tokens": 3}, 'max_tokens has no "not_" form', "not_max_tokens"),
    ({"not_max_cost_usd": 3}, 'max_cost_usd has no "not_" form', "not_max_cost_usd"),
    ({"not_max_latency_ms": 3}, 'max_latency_ms has no "not_" form', "not_max_latency_ms"),
]


@pytest.mark.parametrize(("raw", "message", "key"), SPEC_ERRORS)
def test_load_time_errors(raw: Any, message: str, key: str | None) -> None:
    error = spec_error(raw)
    assert message in str(error)
    assert error.key == key


def test_schema_file_that_is_not_json(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{nope")
    error = spec_error({"json": {"schema_file": "bad.json"}}, base_dir=tmp_path)
    assert f"cannot read schema file {tmp_path / 'bad.json'}: Expecting property name" in str(error)
    assert error.key == "schema_file"


def test_missing_schema_file_names_the_resolved_path(tmp_path: Path) -> None:
    error = spec_error({"json": {"schema_file": "schemas/x.json"}}, base_dir=tmp_path)
    assert str(error) == f"schema file not found: {tmp_path / 'schemas' / 'x.json'}"


def test_a_user_module_is_only_imported_never_evaluated(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    error = spec_error({"python": f"open({str(marker)!r}, 'w')"}, base_dir=tmp_path)
    assert error.key == "python" and not marker.exists()

