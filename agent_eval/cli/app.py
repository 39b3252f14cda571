"""The `agent-eval` command: one module per subcommand, errors caught once here.

Exit codes: 0 pass, 1 quality gate failed, 2 invalid input or usage, 3 run incomplete.
"""

from __future__ import annotations

import sys
import traceback

import click
import typer

from agent_eval import __version__
from agent_eval.cli import baseline, compare, init, merge, report, run, schema, validate
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


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with its code; user errors are one line on stderr, never a traceback."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="agent-eval", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        code = 3
    except AgentEvalError as exc:
        click.echo(f"error: {exc}", err=True)
        code = exc.exit_code
    except Exception:  # a bug of ours: show it, but never as exit 1 ("quality gate failed")
        traceback.print_exc()
        click.echo("internal error in agent-eval (the traceback above); the run is incomplete", err=True)
        code = 3
    sys.exit(code if isinstance(code, int) else 0)
