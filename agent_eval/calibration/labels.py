"""Human labels of judged outputs: the labels file, and the review CSV that produces it.

A label is keyed by (case, rubric, output hash): the judge is re-run on the stored output at calibration
time, so a changed judge or prompt is measured, never remembered. Labels live in
`golden/labels/<suite>.jsonl`, one JSON object per line (`agent-eval schema labels`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ConfigDict, Field, ValidationError

from agent_eval.errors import InputError
from agent_eval.records import Message, Record, Results

__all__ = [
    "LABELS_SCHEMA_VERSION",
    "REVIEW_COLUMNS",
    "Label",
    "ReviewRow",
    "label_key",
    "labels_folder",
    "labels_path",
    "output_hash",
    "read_labels",
    "read_review_csv",
    "review_rows",
    "write_labels",
    "write_review_csv",
]

LABELS_SCHEMA_VERSION = 1


class Label(Record):
    """One human score of one rubric on one output (a line of `golden/labels/<suite>.jsonl`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    schema_version: int = LABELS_SCHEMA_VERSION
    suite: str = Field(description="The suite the output came from.")
    case_id: str
    rubric: str = Field(description="The rubric's name in that suite.")
    output_hash: str = Field(description="SHA-256 (first 16 hex digits) of `output`: part of the key.")
    output: str = Field(description="The candidate's output the human scored; the judge re-grades it.")
    messages: tuple[Message, ...] = Field((), description="The conversation the candidate answered.")
    scale: tuple[int, int] = (1, 5)
    threshold: float
    human_score: float = Field(description="The reviewer's score on the rubric's scale.")
    judge_score: float | None = Field(None, description="The judge's score when the row was exported.")
    judge_model: str | None = None
    reviewer: str | None = None
    notes: str | None = None
    weight: float = Field(1.0, gt=0, description="Outputs of the population this label stands for: 1 for "
                          "borderline and split outputs (all exported), N / n for a random sample of n of N others.")


def output_hash(output: str) -> str:
    return hashlib.sha256(output.encode()).hexdigest()[:16]


def label_key(label: Label) -> tuple[str, str, str]:
    return label.case_id, label.rubric, label.output_hash


def labels_folder(suite_path: Path | str) -> Path:
    """golden/labels/ beside the suite's golden data: under the nearest ancestor of the suite's folder that has
    golden/, else under the current directory."""
    folder = Path(suite_path).resolve().parent
    for candidate in (folder, *folder.parents):
        if (candidate / "golden").is_dir():
            return candidate / "golden" / "labels"
    return Path("golden/labels")


def labels_path(folder: Path, suite: str) -> Path:
    return folder / f"{suite}.jsonl"


def read_labels(paths: Sequence[Path]) -> list[Label]:
    """Labels from files or folders of `*.jsonl`; an invalid line names its file and line."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.glob("*.jsonl"))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(path, "labels file not found")
    labels: list[Label] = []
    for file in files:
        for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError as exc:
                raise InputError(file, f"invalid JSON: {exc}", line=n) from None
            if isinstance(data, dict) and int(data.get("schema_version", 1)) > LABELS_SCHEMA_VERSION:
                raise InputError(file, f"labels schema_version {data['schema_version']} is newer than this "
                                 f"agent-eval reads ({LABELS_SCHEMA_VERSION}); upgrade agent-eval", line=n)
            try:
                label = Label.model_validate(data)
            except ValidationError as exc:
                first = exc.errors()[0]
                raise InputError(file, first["msg"], line=n, field=".".join(map(str, first["loc"]))) from None
            _check_scale(label, file, n)
            labels.append(label)
    return labels


def _check_scale(label: Label, path: Path, line: int) -> None:
    """A hand-edited label must stay on its rubric's scale: calibration bins scores by scale point."""
    low, high = label.scale
    if low >= high:
        raise InputError(path, f"scale {low}-{high} must run from low to high", line=line, field="scale")
    if not low <= label.human_score <= high:
        raise InputError(path, f"human_score {label.human_score:g} is outside the scale {low}-{high}", line=line,
                         field="human_score")
    if label.judge_score is not None and not low <= label.judge_score <= high:
        raise InputError(path, f"judge_score {label.judge_score:g} is outside the scale {low}-{high}", line=line,
                         field="judge_score")


def write_labels(path: Path, new: Iterable[Label]) -> tuple[int, int]:
    """Merge `new` into the labels file (a label with the same key is replaced); (added, replaced)."""
    from agent_eval._files import write_atomic

    current = {label_key(label): label for label in (read_labels([path]) if path.exists() else [])}
    added = replaced = 0
    for label in new:
        key = label_key(label)
        replaced += key in current
        added += key not in current
        current[key] = label
    write_atomic(path, "".join(label.model_dump_json() + "\n" for label in current.values()))
    return added, replaced


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """One output a human should score, and why it was picked."""

    why: str
    label: Label  # human_score not yet known (NaN placeholder is never written)
    criteria: str = ""


REVIEW_COLUMNS = ("case_id", "rubric", "why", "human_score", "reviewer", "notes", "judge_score", "threshold",
                  "scale", "criteria", "conversation", "output", "suite", "output_hash", "judge_model", "messages",
                  "weight")


def _conversation(messages: Sequence[Message]) -> str:
    return "\n".join(f"[{m.role}] {m.content}" for m in messages if m.role != "system")


def review_rows(results: Results, *, margin: float, spread: float, random_n: int, seed: int,
                criteria: dict[tuple[str, str], str] | None = None) -> list[ReviewRow]:
    """Near the threshold, then judge self-disagreement, then a seeded random sample of the rest."""
    near: list[ReviewRow] = []
    split: list[ReviewRow] = []
    rest: list[ReviewRow] = []
    seen: set[tuple[str, str, str]] = set()
    for case in results.cases:
        for run in case.runs:
            for rubric in run.rubrics:
                if rubric.score is None:
                    continue
                label = Label(suite=results.suite.name, case_id=case.id, rubric=rubric.name,
                              output_hash=output_hash(run.output), output=run.output, messages=run.messages,
                              scale=rubric.scale, threshold=rubric.threshold, human_score=0.0,
                              judge_score=rubric.score, judge_model=rubric.judge_model or None)
                if label_key(label) in seen:
                    continue
                seen.add(label_key(label))
                text = (criteria or {}).get((case.id, rubric.name), "")
                gap = max(rubric.samples, default=rubric.score) - min(rubric.samples, default=rubric.score)
                if abs(rubric.score - rubric.threshold) <= margin:
                    near.append(ReviewRow(f"near the threshold ({rubric.score:g} vs {rubric.threshold:g})", label, text))
                elif len(rubric.samples) > 1 and gap >= spread:
                    samples = ", ".join(f"{s:g}" for s in rubric.samples)
                    who = "judges disagreed" if "," in rubric.judge_model else "judge disagreed with itself"
                    split.append(ReviewRow(f"{who} ({samples})", label, text))
                else:
                    rest.append(ReviewRow("random sample", label, text))
    picked = random.Random(seed).sample(rest, min(random_n, len(rest)))
    weight = len(rest) / len(picked) if picked else 1.0  # each random label stands for this many outputs
    picked = [ReviewRow(r.why, r.label.model_copy(update={"weight": weight}), r.criteria) for r in picked]
    return near + split + picked


def write_review_csv(path: Path, rows: Sequence[ReviewRow]) -> None:
    from io import StringIO

    from agent_eval._files import write_atomic

    buffer = StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REVIEW_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        label = row.label
        writer.writerow({key: _cell(value) for key, value in {
            "case_id": label.case_id, "rubric": label.rubric, "why": row.why, "human_score": "", "reviewer": "",
            "notes": "", "judge_score": f"{label.judge_score:g}" if label.judge_score is not None else "",
            "threshold": f"{label.threshold:g}", "scale": f"{label.scale[0]}-{label.scale[1]}",
            "criteria": row.criteria, "conversation": _conversation(label.messages), "output": label.output,
            "suite": label.suite, "output_hash": label.output_hash, "judge_model": label.judge_model or "",
            "messages": json.dumps([m.model_dump(exclude_defaults=True) for m in label.messages], ensure_ascii=False),
            "weight": f"{label.weight:.6g}",
        }.items()})
    write_atomic(path, buffer.getvalue())


# A spreadsheet runs a cell starting with one of these as a formula; "'" makes it text, and is taken off on import
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """`text` as a CSV cell a spreadsheet shows as text, never runs (undone by `_uncell`)."""
    if text.startswith(_FORMULA_START) or (text.startswith("'") and text[1:2].startswith((*_FORMULA_START, "'"))):
        return "'" + text
    return text


def _uncell(text: str) -> str:
    if text.startswith("'") and text[1:2] and text[1:2].startswith((*_FORMULA_START, "'")):
        return text[1:]
    return text


def _float(text: str, path: Path, line: int, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(path, f"expected a number, got {text!r}", line=line, field=field) from None
    if not math.isfinite(value):
        raise InputError(path, f"expected a finite number, got {text!r}", line=line, field=field)
    return value


def read_review_csv(path: Path, reviewer: str | None = None) -> tuple[list[Label], int]:
    """The scored rows of a review CSV as labels, and how many rows had no human score yet."""
    if not path.is_file():
        raise InputError(path, "review file not found")
    labels: list[Label] = []
    blank = 0
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in ("case_id", "rubric", "human_score", "output", "suite", "threshold", "scale")
                       if c not in (reader.fieldnames or ())]
            if missing:
                raise InputError(path, f"missing column(s): {', '.join(missing)}; expected the columns "
                                 "`agent-eval review export` writes", line=1)
            for raw in reader:
                line = reader.line_num
                row = {key: _uncell(value) if isinstance(value, str) else "" for key, value in raw.items()
                       if key is not None}
                if not row["human_score"].strip():
                    blank += 1
                    continue
                labels.append(_label(row, path, line, reviewer))
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text (byte {exc.start}); save the CSV as UTF-8") from None
    except csv.Error as exc:
        raise InputError(path, f"not a CSV file: {exc}", line=reader.line_num) from None
    return labels, blank


def _label(row: dict[str, str], path: Path, line: int, reviewer: str | None) -> Label:
    from agent_eval.suite.schema import SUITE_NAME

    # the suite names the labels file written under --to: a path here would write outside it
    if not SUITE_NAME.match(row["suite"] or ""):
        raise InputError(path, f"suite {row['suite']!r} is not a plain suite name (letters, digits, '.', '_', '-')",
                         line=line, field="suite")
    try:
        low, high = (int(x) for x in row["scale"].split("-"))
    except ValueError:
        raise InputError(path, f"expected a scale like 1-5, got {row['scale']!r}", line=line, field="scale") from None
    if low >= high:
        raise InputError(path, f"expected a scale like 1-5, got {row['scale']!r}", line=line, field="scale")
    score = _float(row["human_score"], path, line, "human_score")
    if not low <= score <= high:
        raise InputError(path, f"human_score {score:g} is outside the scale {low}-{high}", line=line,
                         field="human_score")
    try:
        messages = tuple(Message.model_validate(m) for m in json.loads(row.get("messages") or "[]"))
    except (ValueError, ValidationError):
        raise InputError(path, "the messages column must hold the JSON the export wrote", line=line,
                         field="messages") from None
    judge = (row.get("judge_score") or "").strip()
    weight = _float(row["weight"], path, line, "weight") if (row.get("weight") or "").strip() else 1.0
    if weight <= 0:
        raise InputError(path, f"weight must be above 0, got {weight:g}", line=line, field="weight")
    return Label(
        suite=row["suite"], case_id=row["case_id"], rubric=row["rubric"], output=row["output"],
        output_hash=output_hash(row["output"]), messages=messages, scale=(low, high),
        threshold=_float(row["threshold"], path, line, "threshold"), human_score=score,
        judge_score=_float(judge, path, line, "judge_score") if judge else None,
        judge_model=row.get("judge_model") or None, reviewer=(row.get("reviewer") or "").strip() or reviewer,
        notes=(row.get("notes") or "").strip() or None, weight=weight,
    )
