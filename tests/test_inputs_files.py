"""Prompts and values from files (issue 23): `prompt: {file: ...}` text and chat templates, `file:` vars,
all read inside their folder and hashed by content; run through the CLI on the mock."""

from __future__ import annotations

from pathlib import Path

import pytest
from clitools import REPO, results, run_cli, write

MOCK = """\
name: m
version: 1.0.0
model:
  provider: mock
  name: mock-2025-01-01
  mock:
    rules:
      - match: "(?P<all>[\\\\s\\\\S]+)"
        answers: [{text: "{{ all }}"}]
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], suite: Path, out: str, *extra: str) -> dict:  # type: ignore[type-arg]
    result = run_cli(capsys, "run", suite, "--out", out, "--no-cache", *extra)
    assert result.code in (0, 1), result.text
    return results(suite.parent / out)


def test_a_text_prompt_file_is_the_user_template_and_its_contents_are_hashed(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(folder / "prompts" / "p.txt", "Product {{ product }}. Q: {{ input }}\n")
    write(folder / "c.yaml", MOCK + "prompt:\n  system: Be brief.\n  file: prompts/p.txt\n")
    suite = write(folder / "s.yaml", "suite: s\nconfig: c.yaml\ncases:\n  - id: a\n    input: hi\n"
                  "    vars: {product: Acme}\n    checks: [{equals: \"Product Acme. Q: hi\"}]\n")
    first = _run(capsys, suite, "one")
    run = first["cases"][0]["runs"][0]
    assert run["passed"] is True, run
    assert [m["role"] for m in run["messages"]] == ["system", "user"]
    assert first["config"]["user_template"] == "Product {{ product }}. Q: {{ input }}"
    write(folder / "prompts" / "p.txt", "Product {{ product }}! Q: {{ input }}\n")  # one character edited
    second = _run(capsys, suite, "two")
    assert second["config"]["hash"] != first["config"]["hash"]
    assert second["cases"][0]["runs"][0]["passed"] is False


def test_a_chat_template_renders_messages_and_loops_over_vars(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(folder / "chat.json", '[{"role": "system", "content": "For {{ product }}"}\n'
          '{%- for t in history %}, {"role": {{ t.role | tojson }}, "content": {{ t.content | tojson }}}{% endfor %},\n'
          ' {"role": "user", "content": {{ input | tojson }}}]\n')
    write(folder / "c.yaml", MOCK + "prompt:\n  file: chat.json\n")
    suite = write(folder / "s.yaml", "suite: s\nconfig: c.yaml\ncases:\n  - id: a\n    input: 'and \"now\"?'\n"
                  "    vars:\n      product: Acme\n      history: [{role: user, content: one}, "
                  "{role: assistant, content: two}]\n    checks: [{equals: 'and \"now\"?'}]\n")
    run = _run(capsys, suite, "out")["cases"][0]["runs"][0]
    assert [(m["role"], m["content"]) for m in run["messages"]] == [
        ("system", "For Acme"), ("user", "one"), ("assistant", "two"), ("user", 'and "now"?')]
    assert run["passed"] is True


def test_the_shipped_prompt_file_examples_pass(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = REPO / "suites" / "examples" / "prompt-files"
    for suite, config in [("suite.yaml", None), ("suite.yaml", "few-shot.yaml"), ("history-suite.yaml", None)]:
        extra = ("--config", str(base / config)) if config else ()
        result = run_cli(capsys, "run", base / suite, "--out", str(folder / f"o-{suite}-{config}"), "--no-cache",
                         *extra)
        assert result.code == 0, (suite, config, result.text)


@pytest.mark.parametrize(("prompt", "message"), [
    ("  file: ../outside.txt\n", "must be a relative path inside"),
    ("  file: /etc/hostname\n", "must be a relative path inside"),
    ("  file: missing.txt\n", "file 'missing.txt' not found"),
    ("  file: p.txt\n  user: '{{ input }}'\n", "prompt.file and prompt.user together"),
    ("  file: bad.yaml\n", "message 1 must be {role: system|user|assistant"),
])
def test_a_bad_prompt_file_is_a_load_error(folder: Path, capsys: pytest.CaptureFixture[str], prompt: str,
                                           message: str) -> None:
    write(folder / "outside.txt", "x")
    write(folder / "cfg" / "p.txt", "x")
    write(folder / "cfg" / "bad.yaml", "- {role: robot, content: x}\n")
    write(folder / "cfg" / "c.yaml", MOCK + "prompt:\n" + prompt)
    suite = write(folder / "s.yaml", "suite: s\nconfig: cfg/c.yaml\ncases:\n  - {id: a, input: hi}\n")
    result = run_cli(capsys, "validate", suite)
    assert result.code == 2, result.text
    assert message in result.text and ".yaml" in result.text and "Traceback" not in result.text


def test_a_link_out_of_the_folder_is_refused(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(folder / "secret.txt", "x")
    write(folder / "cfg" / "c.yaml", MOCK + "prompt:\n  file: p.txt\n")
    (folder / "cfg" / "p.txt").symlink_to(folder / "secret.txt")
    suite = write(folder / "s.yaml", "suite: s\nconfig: cfg/c.yaml\ncases:\n  - {id: a, input: hi}\n")
    result = run_cli(capsys, "validate", suite)
    assert result.code == 2 and "leads outside" in result.text, result.text
