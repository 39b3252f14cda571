"""`agent-eval dataset fetch`: a Hugging Face dataset split written to a local JSONL file, once, on request.

`run` never fetches: a suite reads the file this writes (`cases_from: {path: ..., fields: {...}}`), so a run is
reproducible offline and the data is what the repository holds. Needs the optional `datasets` package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

__all__ = ["register"]

dataset_app = typer.Typer(help="Bring datasets from elsewhere into local files a suite reads.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(dataset_app, name="dataset")


@dataset_app.command("fetch")
def fetch(
    name: str = typer.Argument(..., help="The dataset on the Hugging Face Hub, e.g. openai/gsm8k."),
    out: Path = typer.Option(..., "--out", "-o", help="The JSONL file to write (one row a line)."),
    split: str = typer.Option("test", "--split", help="The split to fetch."),
    subset: str | None = typer.Option(None, "--subset", help="The dataset's configuration (subset), e.g. main."),
    revision: str | None = typer.Option(None, "--revision", help="A commit or tag to pin the data to."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="The first N rows only."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
) -> int:
    """Fetch one split of a Hugging Face dataset into a JSONL file (needs pip install 'agent-eval-gate[hf]')."""
    from agent_eval._files import write_atomic
    from agent_eval.errors import ConfigError, UsageError

    if out.exists() and not overwrite:
        raise UsageError(f"{out} exists; pass --overwrite or choose another --out")
    try:
        import datasets
    except ImportError:
        raise ConfigError("fetching a Hugging Face dataset needs the `datasets` package: "
                          "pip install 'agent-eval-gate[hf]'") from None
    try:
        loaded: Any = datasets.load_dataset(name, subset, split=split, revision=revision)
    except Exception as exc:  # the Hub, the network or the dataset's own loader: one line, not a traceback
        raise ConfigError(f"cannot fetch {name} ({split}): {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")\
            from None
    rows = []
    for i, row in enumerate(loaded):
        if limit is not None and i >= limit:
            break
        rows.append(json.dumps(row, ensure_ascii=False, default=str))
    write_atomic(out, "".join(f"{line}\n" for line in rows))
    columns = ", ".join(getattr(loaded, "column_names", None) or [])
    typer.echo(f"wrote {len(rows)} rows of {name} ({split}) to {out}; columns: {columns}\n"
        f"read it with cases_from: {{path: {out.name}, fields: {{input: ..., expected: ...}}}}")
    return 0
