"""Load suites and configs into validated, hashed objects; every error names file, line and field."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_eval._hashing import canonical_hash
from agent_eval.errors import InputError
from agent_eval.modelspec import PROVIDER_NAMES
from agent_eval.records import ContentPart, Message, ToolCall
from agent_eval.suite.case import Case, Recorded, Turn
from agent_eval.suite.files import NamedFile
from agent_eval.suite.parts import ReadFile
from agent_eval.suite.render import renders_templates
from agent_eval.suite.schema import (
    SCHEMA_VERSION,
    CasesFromSpec,
    CaseSpec,
    ConfigFile,
    CriticalSpec,
    MessageSpec,
    RecordedSpec,
    RubricSpec,
    SuiteFile,
)
from agent_eval.suite.yamlfile import LineIndex, find_invalid_text, read_yaml, validate, version_gate

__all__ = ["LoadedConfig", "LoadedSuite", "compile_cases", "load_config", "load_suite", "recorded_config"]


CaseSource = tuple[CaseSpec, Path, LineIndex, tuple[str | int, ...]]
RowSource = tuple[dict[str, Any], LineIndex, tuple[str | int, ...]]


_NEW_DEFAULTS: dict[str, Any] = {"agent": None, "tool_calls": [], "tool_results": {}, "ensemble": [],
                                  "escalation": None, "session": "stateless"}


def stable_dump(value: Any) -> Any:
    """A dump without the fields added for agents while they hold their defaults, so that files
    written before them keep their hashes (and their baselines stay comparable)."""
    if isinstance(value, list):
        return [stable_dump(item) for item in value]
    if not isinstance(value, dict):
        return value
    rule = "match" in value and "answers" in value
    return {
        key: stable_dump(item) for key, item in value.items()
        if not (key in _NEW_DEFAULTS and item == _NEW_DEFAULTS[key]) and not (rule and key == "role" and item == "user")
    }


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A validated candidate config and its content hash."""

    spec: ConfigFile
    path: Path
    hash: str  # behaviour only: see agent_eval.suite.confighash
    opaque: bool = False  # an HTTP or command agent without `agent.version`
    sources: tuple[tuple[str, str], ...] = ()  # ("pkg.mod:fn", source hash) the hash covers
    warnings: tuple[str, ...] = ()
    prompt_file: PromptFile | None = None  # `prompt.file`, read once at load

    @property
    def user_template(self) -> str:
        """The user template: a text prompt file's contents, or `prompt.user`."""
        if self.prompt_file is not None and not self.prompt_file.chat:
            return self.prompt_file.source
        return self.spec.prompt.user


@dataclass(frozen=True, slots=True)
class PromptFile:
    """A prompt read from a file: a user template, or (`chat`) a chat template of {role, content} messages."""

    name: str
    source: str
    chat: bool
    sha256: str


@dataclass(frozen=True, slots=True)
class LoadedSuite:
    """A validated suite with every case (inline and from files) compiled."""

    spec: SuiteFile
    path: Path
    cases: tuple[Case, ...]
    hash: str
    ungated: tuple[str, ...] = ()  # ids tagged needs-review with no checks or rubrics of their own: not run

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def name(self) -> str:
        return self.spec.suite

    def config_path(self) -> Path | None:
        """The suite's default config, relative to the suite file."""
        return (self.base_dir / self.spec.config) if self.spec.config else None


def load_config(path: Path) -> LoadedConfig:
    """Read and validate a candidate config file."""
    data, index = read_yaml(path)
    if isinstance(data, dict):
        version_gate(path, data, SCHEMA_VERSION, index)
    spec = validate(ConfigFile, data, path, index)
    _check_provider(spec.model.provider, path, index, ("model", "provider"))
    prompt_file = _prompt_file(spec, path, index)
    return _hashed(spec, path, data, prompt_file)


def _prompt_file(spec: ConfigFile, path: Path, index: LineIndex) -> PromptFile | None:
    """`prompt.file` read (inside the config's folder); a chat template's messages are checked when it parses
    before rendering (a template that loops over vars is checked when each case renders it)."""
    from agent_eval.suite.files import read_named_file
    from agent_eval.suite.render import chat_template_messages

    name = spec.prompt.file
    if name is None:
        return None
    loc = ("prompt", "file")
    found = read_named_file(path.parent, name, where=path, line=index.line_of(loc), field="prompt.file",
                            text_only=True)
    text = found.text
    chat = name.lower().endswith((".yaml", ".yml", ".json"))
    if not chat and text.endswith("\n"):  # an editor's final newline is not part of the prompt
        text = text[:-1].removesuffix("\r")
    prompt = PromptFile(name=name, source=text, chat=chat,
                        sha256=found.sha256)
    if prompt.chat:
        chat_template_messages(prompt.source, None, where=str(path.parent / name), what="prompt file")
    return prompt


def _hashed(spec: ConfigFile, path: Path, raw: Any, prompt_file: PromptFile | None = None) -> LoadedConfig:
    """The config with its behaviour hash (labels, comments and key order excluded; module sources and the
    prompt file's contents included)."""
    from agent_eval.suite.confighash import behaviour_hash, with_defaults

    view = with_defaults(raw)
    if prompt_file is not None and isinstance(view.get("prompt"), dict):  # the contents, not the file's name
        view["prompt"] = {**view["prompt"], "file": {"sha256": prompt_file.sha256, "chat": prompt_file.chat}}
    found = behaviour_hash(view, path.parent)
    return LoadedConfig(spec=spec, path=path, hash=found.hash, opaque=found.opaque,
                        sources=tuple(sorted(found.sources.items())), warnings=found.warnings,
                        prompt_file=prompt_file)


def recorded_config(suite: LoadedSuite) -> LoadedConfig:
    """The config of a suite whose every case is recorded: it calls nothing, and labels the results `recorded`."""
    from agent_eval.modelspec import ModelSpec

    spec = ConfigFile(name="recorded", version="1.0.0", model=ModelSpec(provider="mock", name="recorded"),
                      description="Recorded outputs: no target is called.")
    return LoadedConfig(spec=spec, path=suite.path, hash=canonical_hash({"recorded": suite.name}))


def _check_provider(name: str, path: Path, index: LineIndex, loc: tuple[str | int, ...]) -> None:
    if name not in PROVIDER_NAMES:
        raise InputError(path, f"unknown provider '{name}'; expected one of: {', '.join(PROVIDER_NAMES)}",
                         line=index.line_of(loc), field=_dotted(loc))


def load_suite(path: Path) -> LoadedSuite:
    """Read a suite, merge its defaults, load `cases_from` files, compile every check."""
    data, index = read_yaml(path)
    if isinstance(data, dict):
        version_gate(path, data, SCHEMA_VERSION, index)
    spec = validate(SuiteFile, data, path, index)
    if spec.judge:
        first: tuple[str | int, ...] = ("judge", 0) if spec.judge.ensemble else ("judge",)
        _check_provider(spec.judge.provider, path, index, (*first, "provider"))
        for i, member in enumerate(spec.judge.ensemble, start=1):
            _check_provider(member.provider, path, index, ("judge", i, "provider"))
    sources: list[CaseSource] = [
        (case, path, index, ("cases", i)) for i, case in enumerate(spec.cases)
    ]
    sources.extend(_cases_from(spec, path, index))
    if not sources:
        raise InputError(path, "the suite has no cases; expected `cases:` or `cases_from:`",
                         line=index.line_of(("cases",)), field="cases")
    cases: list[Case] = []
    ungated: list[str] = []
    seen: dict[str, str] = {}
    for case_spec, file, file_index, loc in sources:
        case = _compile_case(case_spec, spec, file, file_index, loc, path, index)
        if case.id in seen:
            raise InputError(file, f"duplicate case id '{case.id}' (first defined at {seen[case.id]})",
                             line=file_index.line_of((*loc, "id")), field=_dotted((*loc, "id")))
        seen[case.id] = case.source
        if "needs-review" in case_spec.tags and not case_spec.checks and not case_spec.rubrics:
            ungated.append(case.id)  # imported from production, not reviewed yet: never scored into the gate
        else:
            cases.append(case)
    if not cases:
        raise InputError(path, f"all {len(ungated)} cases are tagged needs-review and have no checks or rubrics "
                         "yet; add checks or rubrics to gate them", field="cases")
    _check_derived(spec, cases, path, index)
    # the default `templated_inputs` stays out of the hash, so suites and baselines from before it keep theirs
    unhashed = {"cases", "cases_from"} | ({"templated_inputs"} if spec.templated_inputs == "auto" else set())
    hashed: dict[str, Any] = {
        "suite": stable_dump(spec.model_dump(
            mode="json", exclude={*unhashed, *_UNSET_NEW_FIELDS - spec.model_fields_set})),
        "cases": [c.definition_hash for c in cases]}
    check_code = _check_sources([source[0] for source in sources], spec, path.parent)
    if check_code:  # python checks: their code decides pass or fail, so it is part of the suite
        hashed["sources"] = check_code
    suite_hash = canonical_hash(hashed)
    return LoadedSuite(spec=spec, path=path, cases=tuple(cases), hash=suite_hash, ungated=tuple(ungated))


def compile_cases(spec: SuiteFile, suite_path: Path, cases: Sequence[CaseSpec], source: Path) -> tuple[Case, ...]:
    """Cases made outside a suite file (a shadow replay's conversations, read from `source`), compiled with the
    suite's defaults, checks and judge as its own cases are."""
    empty = LineIndex({})
    return tuple(_compile_case(case, spec, source, empty, ("cases", i), suite_path, empty)
                 for i, case in enumerate(cases))


def _check_sources(cases: Sequence[CaseSpec], spec: SuiteFile, base_dir: Path) -> dict[str, str]:
    """Source hash of every module a python check names ("pkg.module:function"), found beside the suite."""
    from agent_eval.suite.confighash import find_references, module_file

    raw = [list(c.checks) for c in cases] + [list(spec.defaults.checks)]
    found: dict[str, str] = {}
    if spec.vars_transform:
        raw.append([{"python": spec.vars_transform}])
    for key, reference in find_references(raw):
        path = module_file(reference, [base_dir]) if key == "python" else None
        if path is not None:
            found[reference] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return found


# Fields added after suites were first hashed: left out of the hash while unset, so existing hashes hold.
_UNSET_NEW_FIELDS = {"check_timeout_s"}


def _check_derived(spec: SuiteFile, cases: Sequence[Case], path: Path, index: LineIndex) -> None:
    """Each `derived_metrics` formula parses and reads only metrics the suite defines (or counts)."""
    from agent_eval.formula import BUILTIN_NAMES, FormulaError, parse_formula

    known = {c.metric for case in cases for c in case.checks if c.metric}
    known |= {r.metric for case in cases for r in case.rubrics if r.metric}
    open_ended = any(c.name == "python" for case in cases for c in case.checks)  # may return named_scores
    for name, text in spec.derived_metrics.items():
        loc = ("derived_metrics", name)
        try:
            formula = parse_formula(text)
            if not name.isidentifier():
                raise FormulaError(f"a derived metric's name is a word like f1, got {name!r}")
            unknown = sorted(formula.names - known - set(BUILTIN_NAMES))
            if unknown and not open_ended:
                names = ", ".join(sorted(known | set(BUILTIN_NAMES)))
                raise FormulaError(f"unknown metric {', '.join(unknown)}; known: {names}")
        except FormulaError as exc:
            raise InputError(path, f"derived metric '{name}': {exc}", line=index.line_of(loc),
                             field=_dotted(loc)) from None
        known.add(name)


def _dotted(loc: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(loc))


def _compile_case(
    case: CaseSpec, suite: SuiteFile, file: Path, index: LineIndex,
    loc: tuple[str | int, ...], suite_path: Path, suite_index: LineIndex,
) -> Case:
    from agent_eval.suite.check_values import case_renderer

    variables, var_sources, attachments = _case_vars(case, suite, (file, index, loc), (suite_path, suite_index))
    render = case_renderer(suite.templated_inputs, variables, case.expected)  # case vars in check values
    raw_checks = [(raw, file, index, (*loc, "checks", j)) for j, raw in enumerate(case.checks)]
    raw_checks += [(raw, suite_path, suite_index, ("defaults", "checks", j))
                   for j, raw in enumerate(suite.defaults.checks)]
    checks = _compile_checks(raw_checks, suite_path.parent, render)
    rubrics = case.rubrics + suite.defaults.rubrics
    _check_judges(case, rubrics, suite, (file, index, loc), (suite_path, suite_index))
    graded_rubrics = rubrics if render is None else _rendered_rubrics(rubrics, render, case, loc, file, index)
    judged = case.judge is not None or suite.judge is not None
    turns = _compile_turns(case, judged, file, index, loc, suite_path.parent, render)
    every_turn = _compile_every_turn(case, judged, file, index, loc, suite_path.parent, render)
    read_files: dict[str, str] = {}
    read = _part_reader(suite, (file, index, loc), suite_path, read_files)
    try:
        message_input, recorded = _inputs(case, read)
    except ValueError as exc:
        iloc = (*loc, "recorded") if case.recorded is not None else (*loc, "input")
        raise InputError(file, f"case '{case.id}': {exc}", line=index.line_of(iloc), field=_dotted(iloc)) from None
    if case.simulated_user is not None:
        _check_provider(case.simulated_user.model.provider, file, index, (*loc, "simulated_user", "model", "provider"))
    if read_files:
        var_sources = {**var_sources, "part_files": read_files}
    dumped = case.model_dump(mode="json")
    definition = {
        "input": stable_dump(dumped["input"]), "vars": case.vars, "expected": case.expected,
        "checks": [*case.checks, *suite.defaults.checks],
        "rubrics": [stable_dump(_rubric_definition(r)) for r in rubrics],
    }
    if var_sources:  # files read and defaults merged: what the vars came from (only then: hashes stay)
        definition["var_sources"] = var_sources
    for key in ("tool_results", "conversation", "simulated_user", "recorded"):  # only when present: hashes stay
        if getattr(case, key):
            definition[key] = dumped[key]
    critical = case.critical if case.critical is not None else suite.defaults.critical
    return Case(
        id=case.id, input=message_input, tags=tuple(dict.fromkeys(case.tags + suite.defaults.tags)),
        vars=variables, expected=case.expected, critical=bool(critical),
        critical_min_pass_rate=critical.min_pass_rate if isinstance(critical, CriticalSpec) else None,
        checks=tuple(checks), rubrics=graded_rubrics, judge=case.judge or suite.judge,
        definition_hash=canonical_hash(definition),
        source=f"{file}:{index.line_of(loc) or 1}", tool_results=dict(case.tool_results),
        metadata=dict(case.metadata), templated=renders_templates(suite.templated_inputs, variables),
        conversation=turns, simulated_user=case.simulated_user, every_turn=every_turn, recorded=recorded,
        attachments=attachments,
    )


def _inputs(case: CaseSpec, read: ReadFile | None) -> tuple[str | tuple[Message, ...], Recorded | None]:
    """(what the case sends first, its recorded answer); ValueError when a content part is malformed."""
    recorded = _recorded(case.recorded, read)
    if case.conversation is not None:
        return case.conversation[0].user, recorded
    if case.simulated_user is not None:
        return case.simulated_user.opening, recorded
    if recorded is not None and recorded.messages:
        return recorded.messages, recorded
    if isinstance(case.input, str) or case.input is None:
        return case.input or "", recorded
    return tuple(_message(m, read) for m in case.input), recorded


def _case_vars(case: CaseSpec, suite: SuiteFile, at: tuple[Path, LineIndex, tuple[str | int, ...]],
               suite_at: tuple[Path, LineIndex]) -> tuple[dict[str, Any], dict[str, Any], tuple[ContentPart, ...]]:
    """(the vars a case uses, what they came from for its definition hash, the images, PDFs or audio its `file:`
    vars name): `defaults.vars` under the case's own, `file:` values read inside the suite's folder, then the
    suite's `vars_transform`."""
    from agent_eval.suite.files import FILE_PREFIX, read_named_file
    from agent_eval.suite.parts import file_part

    file, index, loc = at
    suite_path = suite_at[0]
    attachments: list[ContentPart] = []
    variables = {**suite.defaults.vars, **case.vars}
    sources: dict[str, Any] = {"defaults": suite.defaults.vars} if suite.defaults.vars else {}
    from_data = file != suite_path
    for name, value in variables.items():
        if not isinstance(value, str) or not value.startswith(FILE_PREFIX):
            continue
        vloc = (*loc, "vars", name) if name in case.vars else ("defaults", "vars", name)
        where, where_index = (file, index) if name in case.vars else suite_at
        if from_data and name in case.vars and not (suite.dataset and suite.dataset.allow_files):
            raise InputError(file, f"var '{name}' names a file ({value}); a dataset row reads files only when the "
                             "suite opts in with `dataset: {allow_files: true}`",
                             line=where_index.line_of(vloc), field=_dotted(vloc))
        found = read_named_file(suite_path.parent, value[len(FILE_PREFIX):], where=where,
                                line=where_index.line_of(vloc), field=_dotted(vloc))
        if found.kind == "text":
            variables[name] = found.text
        else:  # an image, PDF or audio clip goes with the user message; the var reads as its file name
            attachments.append(file_part(found))
            variables[name] = found.name
        sources.setdefault("files", {})[name] = found.sha256
    if suite.vars_transform:
        variables = _transformed(suite.vars_transform, variables, case.id, suite_path)
        sources["transformed"] = canonical_hash(variables)  # what the function made of them, not just its name
    return variables, sources, tuple(attachments)


def _transformed(ref: str, variables: dict[str, Any], case_id: str, suite_path: Path) -> dict[str, Any]:
    """The suite's `vars_transform` applied to one case's vars; what it raises is a load error naming the case."""
    import inspect

    from agent_eval.checks import CheckSpecError
    from agent_eval.checks.python import import_function

    try:
        function = import_function(ref, suite_path.parent.resolve())
    except CheckSpecError as exc:
        raise InputError(suite_path, str(exc), field="vars_transform") from None
    try:
        takes_id = len(inspect.signature(function).parameters) >= 2
    except (TypeError, ValueError):
        takes_id = False
    try:
        result = function(dict(variables), case_id) if takes_id else function(dict(variables))
    except Exception as exc:
        raise InputError(suite_path, f"{ref} raised {type(exc).__name__}: {exc} on case '{case_id}'",
                         field="vars_transform") from None
    if not isinstance(result, dict) or not all(isinstance(k, str) for k in result):
        raise InputError(suite_path, f"{ref} returned {type(result).__name__} for case '{case_id}'; expected a "
                         "mapping of var names to values", field="vars_transform")
    return result


def _recorded(spec: RecordedSpec | None, read: ReadFile | None = None) -> Recorded | None:
    """A recorded answer: the output, the history before it and every tool call in it (with its tool result)."""
    if spec is None:
        return None
    calls = [ToolCall(id=c.id, name=c.name,
                      arguments=c.arguments if isinstance(c.arguments, str) else json.dumps(c.arguments))
             for c in spec.tool_calls]
    if spec.messages is None:
        return Recorded(output=spec.output or "", tool_calls=tuple(calls))
    history = tuple(_message(m, read) for m in spec.messages)
    results = {m.tool_call_id: m.content for m in history if m.role == "tool"}
    made = [c.model_copy(update={"result": results[c.id]}) if c.id in results else c
            for m in history for c in m.tool_calls]
    return Recorded(output=history[-1].content, messages=history[:-1], tool_calls=(*made, *calls))


def _needs_judge(has_judge: bool, name: str, where: Path, where_index: LineIndex,
                 rloc: tuple[str | int, ...]) -> None:
    if not has_judge:
        raise InputError(where, f"rubric '{name}' has no judge; add `judge:` to the suite, case or rubric",
                         line=where_index.line_of(rloc), field=_dotted(rloc))


def _compile_checks(raw_checks: list[tuple[Any, Path, LineIndex, tuple[str | int, ...]]], base_dir: Path,
                    render: Any, *, turn: bool = False) -> list[Any]:
    """Compile check items (case vars rendered into their values when the suite says so); errors name the
    file, line and field of the offending item."""
    from agent_eval.checks import CheckSpecError, compile_check
    from agent_eval.suite.check_values import render_check_item

    checks = []
    for raw, where, where_index, check_loc in raw_checks:
        try:
            if turn and isinstance(raw, dict) and "scope" in raw:
                raise CheckSpecError("scope is for a case's checks; a turn's checks see that turn's reply",
                                     key="scope")
            item = render_check_item(raw, render) if render is not None else raw
            checks.append(compile_check(item, base_dir=base_dir))
        except CheckSpecError as exc:
            full = check_loc
            if exc.key:  # an option nested under the check's name has a line of its own
                names = [k for k in raw if k != exc.key and k != "weight"] if isinstance(raw, dict) else []
                nested = (*check_loc, names[0], exc.key) if names else None
                full = nested if nested and nested in where_index.lines else (*check_loc, exc.key)
            raise InputError(where, str(exc), line=where_index.line_of(full), field=_dotted(full)) from None
    return checks


def _compile_turns(case: CaseSpec, judged: bool, file: Path, index: LineIndex, loc: tuple[str | int, ...],
                   base_dir: Path, render: Any) -> tuple[Turn, ...] | None:
    """The scripted turns with their checks compiled; a turn rubric needs a judge like any other."""
    if case.conversation is None:
        return None
    turns = []
    for t, spec in enumerate(case.conversation):
        tloc = (*loc, "conversation", t)
        raw = [(item, file, index, (*tloc, "checks", j)) for j, item in enumerate(spec.checks)]
        for j, rubric in enumerate(spec.rubrics):
            _needs_judge(rubric.judge is not None or judged, rubric.name, file, index, (*tloc, "rubrics", j))
        turns.append(Turn(user=spec.user, checks=tuple(_compile_checks(raw, base_dir, render, turn=True)),
                          rubrics=spec.rubrics))
    return tuple(turns)


def _compile_every_turn(case: CaseSpec, judged: bool, file: Path, index: LineIndex, loc: tuple[str | int, ...],
                        base_dir: Path, render: Any) -> Turn | None:
    """A simulated user's `turn_checks` and `turn_rubrics`, compiled like a scripted turn's."""
    sim = case.simulated_user
    if sim is None or not (sim.turn_checks or sim.turn_rubrics):
        return None
    sloc = (*loc, "simulated_user")
    raw = [(item, file, index, (*sloc, "turn_checks", j)) for j, item in enumerate(sim.turn_checks)]
    for j, rubric in enumerate(sim.turn_rubrics):
        _needs_judge(rubric.judge is not None or judged, rubric.name, file, index, (*sloc, "turn_rubrics", j))
    return Turn(user="", checks=tuple(_compile_checks(raw, base_dir, render, turn=True)), rubrics=sim.turn_rubrics)


def _rendered_rubrics(rubrics: tuple[RubricSpec, ...], render: Any, case: CaseSpec, loc: tuple[str | int, ...],
                      file: Path, index: LineIndex) -> tuple[RubricSpec, ...]:
    """Rubric criteria and steps with the case's vars; a template that fails names the rubric."""
    from agent_eval.checks import CheckSpecError
    from agent_eval.suite.check_values import render_rubric

    try:
        return tuple(render_rubric(r, render) for r in rubrics)
    except CheckSpecError as exc:
        raise InputError(file, f"case '{case.id}': {exc}", line=index.line_of((*loc, "rubrics")),
                         field=_dotted((*loc, "rubrics"))) from None


def _check_judges(
    case: CaseSpec, rubrics: tuple[RubricSpec, ...], suite: SuiteFile,
    at: tuple[Path, LineIndex, tuple[str | int, ...]], suite_at: tuple[Path, LineIndex],
) -> None:
    """Every rubric has a judge, and every judge (case- or rubric-level) names a known provider."""
    file, index, loc = at
    if case.judge is not None:
        _check_provider(case.judge.provider, file, index, (*loc, "judge", "provider"))
    for j, rubric in enumerate(rubrics):
        own = j < len(case.rubrics)
        rloc = (*loc, "rubrics", j) if own else ("defaults", "rubrics", j - len(case.rubrics))
        where, where_index = (file, index) if own else suite_at
        if rubric.judge is None and case.judge is None and suite.judge is None:
            raise InputError(where, f"rubric '{rubric.name}' has no judge; add `judge:` to the suite, case or rubric",
                             line=where_index.line_of(rloc), field=_dotted(rloc))
        if rubric.judge is not None:
            _check_provider(rubric.judge.provider, where, where_index, (*rloc, "judge", "provider"))


def _rubric_definition(rubric: RubricSpec) -> dict[str, Any]:
    """A rubric as hashed; fields added later are left out while unset, so older baselines still pair."""
    return rubric.model_dump(mode="json", exclude={"template"} if rubric.template is None else None)


def _message(spec: MessageSpec, read: ReadFile | None = None) -> Message:
    """A scripted message, its tool calls' arguments as JSON text (as a model writes them), its content parts read
    (ValueError: a part is malformed)."""
    from agent_eval.suite.parts import read_content

    calls = tuple(
        ToolCall(id=c.id, name=c.name,
                 arguments=c.arguments if isinstance(c.arguments, str) else json.dumps(c.arguments))
        for c in spec.tool_calls
    )
    text, parts = read_content(spec.content, read)
    return Message(role=spec.role, content=text, tool_calls=calls, tool_call_id=spec.tool_call_id, parts=parts)


def _part_reader(suite: SuiteFile, at: tuple[Path, LineIndex, tuple[str | int, ...]], suite_path: Path,
                 read_files: dict[str, str]) -> ReadFile | None:
    """How a case's content parts read files: inside the suite's folder, and for a dataset row only when the suite
    allows it; each file's hash is noted in `read_files` (for the case's definition hash)."""
    from agent_eval.suite.files import read_named_file

    file, index, loc = at
    if file != suite_path and not (suite.dataset and suite.dataset.allow_files):
        return None
    where = (*loc, "input")

    def read(name: str) -> NamedFile:
        found = read_named_file(suite_path.parent, name, where=file, line=index.line_of(where), field=_dotted(where))
        read_files[name] = found.sha256
        return found

    return read


def _sources(spec: SuiteFile) -> Iterator[tuple[str, CasesFromSpec, tuple[str | int, ...]]]:
    """(file or glob, its options, loc) for each `cases_from` entry."""
    entries = spec.cases_from if isinstance(spec.cases_from, tuple) else (spec.cases_from,)
    for i, entry in enumerate(entries):
        if entry is None:
            continue
        loc: tuple[str | int, ...] = ("cases_from", i) if isinstance(spec.cases_from, tuple) else ("cases_from",)
        yield (entry, CasesFromSpec(path=entry), loc) if isinstance(entry, str) else (entry.path, entry, loc)


def _glob(path: Path, pattern: str, line: int | None) -> list[Path]:
    """The files a `cases_from` glob matches, relative to the suite's folder or absolute."""
    import glob

    try:
        if Path(pattern).is_absolute():  # Path.glob takes relative patterns only
            found = [Path(p) for p in glob.glob(pattern, recursive=True)]
        else:
            found = list(path.parent.glob(pattern))
    except (ValueError, NotImplementedError, OSError) as exc:
        raise InputError(path, f"invalid glob '{pattern}': {exc}", line=line, field="cases_from") from None
    return sorted(p for p in found if p.is_file())


def _cases_from(spec: SuiteFile, path: Path, index: LineIndex) -> Iterator[CaseSource]:
    """Yield (case, file, line index, loc) for every case of every `cases_from` file."""
    for name, options, where in _sources(spec):
        if any(ch in name for ch in "*?["):
            files = _glob(path, name, index.line_of(where))
            if not files:
                raise InputError(path, f"no cases file matches '{name}' (in {path.parent})",
                                 line=index.line_of(where), field="cases_from")
        else:
            files = [path.parent / name]
            if not files[0].is_file():
                raise InputError(path, f"cases file '{name}' not found (looked for {files[0]})",
                                 line=index.line_of(where), field="cases_from")
        for file in files:
            fields = {str(key): column for key, column in options.fields.items()}
            for row, row_index, loc in _rows(file, options.input_column, fields):
                case = validate(CaseSpec, row, file, row_index, root=loc)
                _no_code(case, file, row_index, loc)
                _no_endpoints(case, file, row_index, loc)
                yield case, file, row_index, loc


def _code_key(value: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    """Where a `python:` (or `not_python:`) key sits in a check item, at any depth (transform, group member)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("python", "not_python"):
                return (*loc, key)
            found = _code_key(item, (*loc, key))
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _code_key(item, (*loc, i))
            if found is not None:
                return found
    return None


def _no_code(case: CaseSpec, file: Path, index: LineIndex, loc: tuple[str | int, ...]) -> None:
    """A case from a data file names no code: only the suite and the config, which the user wrote, choose functions."""
    items: list[tuple[Any, tuple[str | int, ...]]] = [(list(case.checks), (*loc, "checks"))]
    items += [(list(turn.checks), (*loc, "conversation", t, "checks")) for t, turn in enumerate(case.conversation or ())]
    for value, where in items:
        found = _code_key(value, where)
        if found is not None:
            raise InputError(file, "a cases_from file cannot name code (python:): a data file never chooses what "
                             "runs; write the python: check in the suite file (e.g. defaults.checks) instead",
                             line=index.line_of(found), field=_dotted(found))


def _no_endpoints(case: CaseSpec, file: Path, index: LineIndex, loc: tuple[str | int, ...]) -> None:
    """A case from a data file cannot send a request elsewhere or with another key than the suite says."""
    specs: list[tuple[Any, tuple[str | int, ...]]] = []
    if case.simulated_user is not None:
        specs.append((case.simulated_user.model, (*loc, "simulated_user", "model")))
    if case.judge is not None:
        specs += [(case.judge, (*loc, "judge"))]
        specs += [(m, (*loc, "judge", i)) for i, m in enumerate(case.judge.ensemble)]
    specs += [(r.judge, (*loc, "rubrics", i, "judge")) for i, r in enumerate(case.rubrics) if r.judge is not None]
    for spec, where in specs:
        for key in ("base_url", "api_key_env"):
            if getattr(spec, key, None) is not None:
                raise InputError(file, f"a cases_from file cannot set {key}: a data file never chooses where "
                                 "requests go or which key they carry; set it in the suite file",
                                 line=index.line_of((*where, key)), field=_dotted((*where, key)))


# csv's own field limit (128 KiB); a longer field is refused with its line, not a traceback
_CSV_FIELD_LIMIT = csv.field_size_limit()


def _text_of(file: Path) -> str:
    """The file as text; invalid UTF-8 is refused with the line it is on."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(file, f"cannot read file: {exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(file, f"not valid UTF-8 (byte {data[exc.start]:#04x}); save the file as UTF-8",
                         line=line) from None


def _checked(row: dict[str, Any], file: Path, line: int) -> dict[str, Any]:
    bad = find_invalid_text(row)
    if bad is not None:
        loc, what = bad
        raise InputError(file, what, line=line, field=_dotted(loc) or None)
    return row


def _rows(file: Path, input_column: str | None = None, fields: dict[str, str] | None = None) -> Iterator[RowSource]:
    """Rows of a JSONL, JSON, CSV, Parquet or YAML cases file, each with its line and a location; `fields` says
    which key holds each case field."""
    from agent_eval.suite.datasets import chat_row, flat_row, mapped_row, parquet_rows

    fields = fields or {}
    suffix = file.suffix.lower()
    if suffix in (".jsonl", ".json"):
        for row, n, loc in _json_rows(file):
            row = mapped_row(row, fields, file, n, flat=False)
            if "messages" in row and "input" not in row:
                row = chat_row(row, file, n)
            yield _checked(row, file, n), LineIndex({loc: n}), loc
    elif suffix == ".csv":
        reader = csv.DictReader(io.StringIO(_text_of(file), newline=""))
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                detail = (f"a field is longer than {_CSV_FIELD_LIMIT // 1024} KiB" if "field larger" in str(exc)
                          else f"malformed CSV: {exc}")
                raise InputError(file, detail, line=reader.line_num + 1) from None  # the line being read
            n = reader.line_num
            extra: Any = row.get(None)  # type: ignore[call-overload]  # csv files surplus fields under None
            if extra is not None:
                raise InputError(file, f"this row has {len(row) - 1 + len(extra)} fields, the header names "
                                 f"{len(row) - 1}; quote a field that holds a comma", line=n)
            row = mapped_row(row, fields, file, n, flat=True)
            yield _checked(flat_row(row, file, n, input_column), file, n), LineIndex({(): n}), ()
    elif suffix == ".parquet":
        for n, row in enumerate(parquet_rows(file), start=1):
            row = mapped_row(row, fields, file, n, flat=True)
            yield _checked(flat_row(row, file, n, input_column), file, n), LineIndex({(): n}), ()
    elif suffix in (".yaml", ".yml"):
        data, yindex = read_yaml(file)
        items = data.get("cases") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise InputError(file, "expected a list of cases (or a mapping with `cases:`)", line=1)
        prefix: tuple[str | int, ...] = ("cases",) if isinstance(data, dict) else ()
        for i, row in enumerate(items):
            line = yindex.line_of((*prefix, i)) or 1
            yield mapped_row(_as_row(row, file, line), fields, file, line, flat=False), yindex, (*prefix, i)
    else:
        raise InputError(file, f"unsupported cases file type '{suffix}'; expected .jsonl, .json, .csv, .parquet "
                         "or .yaml")


def _json_rows(file: Path) -> Iterator[tuple[dict[str, Any], int, tuple[str | int, ...]]]:
    """(row, line, loc) of a JSONL file, or of a JSON file holding an array of rows (or {cases: [...]})."""
    text = _text_of(file)
    if file.suffix.lower() == ".jsonl":
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield _as_row(_json(line, file, n), file, n), n, ()
        return
    data = _json(text, file, None)
    items = data.get("cases") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise InputError(file, "expected a JSON array of cases (or an object with `cases`)", line=1)
    starts = _element_lines(text, len(items))
    for i, item in enumerate(items):
        yield _as_row(item, file, starts[i]), starts[i], (i,)


def _json(text: str, file: Path, line: int | None) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError(file, "invalid JSON: nested too deeply", line=line) from None
    except json.JSONDecodeError as exc:
        detail = str(exc) if line is not None else f"{exc.msg} (column {exc.colno})"
        raise InputError(file, f"invalid JSON: {detail}", line=line or exc.lineno) from None


def _element_lines(text: str, count: int) -> list[int]:
    """The line each top-level array element starts on (the array may sit under `cases`)."""
    decoder = json.JSONDecoder()
    start = text.index("[", text.index('"cases"') if text.lstrip().startswith("{") else 0) + 1
    lines, pos = [], start
    for _ in range(count):
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        lines.append(text.count("\n", 0, pos) + 1)
        _, pos = decoder.raw_decode(text, pos)
    return lines


def _as_row(row: Any, file: Path, line: int) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise InputError(file, f"expected a case object, got {type(row).__name__}", line=line)
    return row
