"""The `agent-eval` command: one module per subcommand, errors caught once here.

Exit codes: 0 pass, 1 quality gate failed, 2 invalid input or usage, 3 run incomplete.
"""

from __future__ import annotations

import gc
import os
import sys
import traceback
from typing import Any

import typer

from agent_eval._version import __version__
from agent_eval.cli import (
    baseline,
    calibrate,
    compare,
    dataset,
    import_,
    init,
    merge,
    power,
    report,
    review,
    run,
    schema,
    shadow,
    validate,
)
from agent_eval.errors import AgentEvalError

__all__ = ["app", "main"]

app = typer.Typer(
    name="agent-eval",
    help="A CI gate for LLM agents: run golden suites k times, score them, and fail a change "
    "that made quality worse.\n\nExit codes: 0 pass, 1 quality gate failed, 2 invalid input or usage, "
    "3 run incomplete.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"agent-eval {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """agent-eval."""


run.register(app)
validate.register(app)
schema.register(app)
compare.register(app)
baseline.register(app)
report.register(app)
merge.register(app)
init.register(app)
power.register(app)
import_.register(app)
review.register(app)
calibrate.register(app)
dataset.register(app)
shadow.register(app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with its code; user errors are one line on stderr, never a traceback."""
    command = typer.main.get_command(app)
    _tidy_help(command)
    try:
        code = command.main(args=argv, prog_name="agent-eval", standalone_mode=False)
    except AgentEvalError as exc:
        from agent_eval._plain import plain

        print(f"error: {_masked(plain(str(exc)))}", file=sys.stderr)
        code = exc.exit_code
    except (typer.Exit, typer.Abort) as exc:
        code = getattr(exc, "exit_code", 3)
    except Exception as exc:
        code = _usage_or_bug(exc)
    if argv is None:  # the process ends here: skip the final collection of what the imports built (~0.2 s)
        gc.freeze()
    sys.exit(code if isinstance(code, int) else 0)


_METAVARS = {"path": "PATH", "int": "N", "int range": "N", "float": "X", "float range": "X", "str": "TEXT"}


def _tidy_help(command: Any) -> None:
    """Plain metavars (PATH, N, X, TEXT; none on flags) and `[default: 8]` for defaults given as text.

    Duck-typed: typer builds its commands on its own copy of click."""
    for param in command.params:
        option = param.param_type_name == "option"
        if option and not param.is_flag and param.metavar is None:
            label = str(param.display_type(None)).strip("<>").removeprefix("list[").removesuffix("]")
            param.metavar = _METAVARS.get(label, _METAVARS.get(label.lower(), label.upper()))
        elif param.param_type_name == "argument" and param.metavar is None:
            param.metavar = (param.name or "arg").upper()
            param.display_type_rich = lambda ctx=None: None  # the name says it: no "<list[Path]>" after it
        if option and isinstance(param.show_default, str):
            param.help = f"{param.help or ''}  [default: {param.show_default}]".strip()
            param.show_default = False
    for sub in getattr(command, "commands", {}).values():
        _tidy_help(sub)


def _masked(text: str) -> str:
    """`text` without the values of secret-named environment variables (a key quoted by an error or a traceback)."""
    from agent_eval.masking import environment_secrets, mask_text

    return mask_text(text, environment_secrets(os.environ))


def _usage_or_bug(exc: Exception) -> int:
    """A command-line usage error (click's interface: `show()` and `exit_code`) exits 2; a bug exits 3."""
    if callable(getattr(exc, "show", None)) and hasattr(exc, "exit_code"):
        exc.show()  # type: ignore[attr-defined]
        return 2
    if type(exc).__name__ == "Abort":  # Ctrl-C at a prompt
        print("aborted", file=sys.stderr)
        return 3
    # A bug of ours: show it, but never as exit 1 ("quality gate failed").
    print(_masked(traceback.format_exc()), end="", file=sys.stderr)
    print("internal error in agent-eval (the traceback above); the run is incomplete", file=sys.stderr)
    return 3
