"""Run the agent-eval CLI in-process (exit code, stdout, stderr) or as a subprocess (signals)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent_eval.cli.app import main

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run_cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> CliResult:
    """`agent-eval ARGS` in this process; returns its exit code and what it printed."""
    capsys.readouterr()
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    else:
        code = 0
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


def spawn_cli(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`agent-eval ARGS` as a child process, for signals."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "agent_eval", *map(str, args)], cwd=cwd, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def copy_examples(dest: Path) -> Path:
    """The repository's suites/ and golden/ copied into `dest` (tests never touch the originals)."""
    shutil.copytree(REPO / "suites", dest / "suites")
    shutil.copytree(REPO / "golden", dest / "golden")
    return dest


def results(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "results.json").read_text())


def runs_lines(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "runs.jsonl").read_text().splitlines() if line.strip()]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
