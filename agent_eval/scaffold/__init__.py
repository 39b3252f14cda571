"""What `agent-eval init` writes into a repository: the templates (package data beside this file) and the writer.

baseline.json is the example's baseline, made once by running the example:

    agent-eval init /tmp/s && cd /tmp/s && agent-eval run suites/shop-assistant.yaml --save-baseline
    cp golden/baselines/shop-assistant.json <this folder>/baseline.json

tests/test_init.py fails when it no longer matches a fresh run.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

from agent_eval.errors import UsageError

__all__ = ["EXAMPLE_SUITE", "WORKFLOW", "ScaffoldFile", "scaffold_files", "write_scaffold"]

EXAMPLE_SUITE = "shop-assistant"
WORKFLOW = ".github/workflows/agent-eval.yml"

# (where it goes in the user's repository, the template in this package)
_FILES: tuple[tuple[str, str], ...] = (
    (f"suites/{EXAMPLE_SUITE}.yaml", "suite.yaml"),
    ("suites/configs/shop-good.yaml", "config-good.yaml"),
    ("suites/configs/shop-regressed.yaml", "config-regressed.yaml"),
    (f"golden/{EXAMPLE_SUITE}-cases.yaml", "cases.yaml"),
    (f"golden/baselines/{EXAMPLE_SUITE}.json", "baseline.json"),
    (WORKFLOW, "workflow.yml"),
    (".pre-commit-config.yaml", "pre-commit-config.yaml"),
)
# Keeps results and the response cache out of git, as .pytest_cache does.
_GITIGNORE = (".agent-eval/.gitignore", "# written by agent-eval init: results and the response cache\n*\n")


@dataclass(frozen=True, slots=True)
class ScaffoldFile:
    """One file to write: its path relative to the repository, and its text."""

    path: PurePosixPath
    text: str


def _split_action(action: str) -> tuple[str, str]:
    repo, sep, ref = action.partition("@")
    if not sep or repo.count("/") != 1 or not ref or any(c.isspace() for c in action):
        raise UsageError(f"--action expects OWNER/REPO@REF (e.g. acme/agent-eval@v0.1.0), got {action!r}")
    return repo, ref


def scaffold_files(action: str | None) -> list[ScaffoldFile]:
    """Every file of the scaffold, the workflow pointing at `action` (OWNER/REPO@REF); no workflow when None."""
    repo, ref = _split_action(action) if action else ("<owner>/<repo>", "<tag or commit>")
    package = resources.files(__name__)
    substitutions = {"__ACTION__": action or "", "__PIP__": f"agent-eval-gate @ git+https://github.com/{repo}@{ref}",
                     "__REPO__": repo, "__REV__": ref}
    files = []
    for dest, template in _FILES:
        if dest == WORKFLOW and action is None:
            continue
        text = package.joinpath(template).read_text(encoding="utf-8")
        for placeholder, value in substitutions.items():
            text = text.replace(placeholder, value)
        files.append(ScaffoldFile(PurePosixPath(dest), text))
    files.append(ScaffoldFile(PurePosixPath(_GITIGNORE[0]), _GITIGNORE[1]))
    return files


def write_scaffold(folder: Path, *, force: bool = False, action: str | None) -> list[Path]:
    """Write the scaffold into `folder`; refuses (UsageError, nothing written) when a file exists, unless `force`."""
    files = scaffold_files(action)
    targets = [(folder / Path(f.path), f) for f in files]
    existing = [str(f.path) for path, f in targets if path.exists()]
    if existing and not force:
        raise UsageError(f"init would overwrite {', '.join(existing)} in {folder}; nothing was written "
                         "(pass --force to overwrite)")
    folders = [str(f.path) for path, f in targets if path.is_dir()]
    if folders:
        raise UsageError(f"init: {', '.join(folders)} in {folder} are folders, not files; nothing was written")
    for path, file in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(file.text, encoding="utf-8")
    return [path for path, _ in targets]
