"""Render a case into the messages sent to the model (Jinja2 sandbox, StrictUndefined).

Whether a case's own text is a template is decided once, by `renders_templates` (the suite's
`templated_inputs`); config prompts are always templates. Every render is bounded in time and size
(`agent_eval.templating`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from agent_eval.errors import InputError
from agent_eval.records import Message

if TYPE_CHECKING:
    from jinja2 import Template

    from agent_eval.suite.case import Case
    from agent_eval.suite.loader import LoadedConfig

__all__ = ["TemplatedMode", "recorded_history", "render_input", "render_messages", "render_text", "render_user_turn",
           "renders_templates"]

TemplatedMode = Literal["auto"] | bool


def renders_templates(mode: TemplatedMode, variables: Mapping[str, Any] | None) -> bool:
    """Whether a case's text (input, check values, rubric text) is rendered as Jinja2.

    `true` always, `false` never, `auto` only when the case has non-empty `vars`: customer text
    containing `{{` is otherwise sent verbatim.
    """
    if mode == "auto":
        return bool(variables)
    return bool(mode)


@lru_cache(maxsize=1024)
def _template(source: str) -> Template:
    from jinja2 import StrictUndefined

    from agent_eval.templating import bounded_environment

    env = bounded_environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    return env.from_string(source)  # type: ignore[no-any-return]


def render_text(source: str, variables: Mapping[str, object], *, where: str, field: str, what: str) -> str:
    """Render `source`; any failure of the template (syntax, undefined name, 1/0, include, a huge range)
    is an InputError naming `where`, `field` and `what` (e.g. "case 'a' (file:line)")."""
    from jinja2 import TemplateError

    if "{" not in source:  # plain text: nothing to render, and compiling it costs ~0.5 ms
        return source
    try:
        return _template(source).render(**variables)
    except TemplateError as exc:
        detail = getattr(exc, "message", None) or str(exc)
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError, RecursionError,
            MemoryError) as exc:  # errors raised while the template runs, e.g. {{ 1/0 }} or {% include %}
        detail = f"{type(exc).__name__}: {exc}"
    raise InputError(where, f"{what}: cannot render template: {detail}", field=field) from None


def _render(source: str, variables: dict[str, object], *, where: str, field: str, case: Case) -> str:
    return render_text(source, variables, where=where, field=field, what=f"case '{case.id}' ({case.source})")


_CHAT_ROLES = ("system", "user", "assistant")


def chat_template_messages(source: str, variables: Mapping[str, object] | None, *, where: str,
                           what: str) -> list[Message] | None:
    """A chat template's messages: each message's content rendered when the file parses as a list of
    {role, content} as written; otherwise the whole file rendered first (loops over vars), then parsed.
    With `variables` None only the parsed form is checked (None when the file needs rendering first)."""
    import yaml

    def parsed(text: str) -> Any:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return None

    def checked(value: Any) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not value:
            raise InputError(where, f"{what}: a chat template is a non-empty list of {{role, content}} messages")
        for i, item in enumerate(value):
            if not isinstance(item, dict) or item.get("role") not in _CHAT_ROLES or set(item) - {"role", "content"} \
                    or not isinstance(item.get("content", ""), str):
                raise InputError(where, f"{what}: message {i + 1} must be {{role: system|user|assistant, content: "
                                 "text}", field=f"[{i}]")
        return value

    raw = parsed(source)
    if variables is None:
        if isinstance(raw, list):
            checked(raw)
        return None
    if isinstance(raw, list):
        items = checked(raw)
        return [Message(role=m["role"], content=render_text(m.get("content", ""), variables, where=where,
                                                             field=f"[{i}].content", what=what))
                for i, m in enumerate(items)]
    rendered = render_text(source, variables, where=where, field="", what=what)
    value = parsed(rendered)
    if value is None and rendered.strip():
        raise InputError(where, f"{what}: the rendered chat template is not valid JSON or YAML")
    return [Message(role=m["role"], content=m.get("content", "")) for m in checked(value)]


def render_messages(case: Case, config: LoadedConfig) -> tuple[Message, ...]:
    """The system prompt, then the user template around the case input (or the case's messages); a chat
    template file renders into the messages itself, the case's messages (if any) following them."""
    prompt = config.spec.prompt
    where = str(config.path)
    variables: dict[str, object] = dict(case.vars)
    messages: list[Message] = []
    chat = config.prompt_file if config.prompt_file is not None and config.prompt_file.chat else None
    if chat is not None:
        text = render_input(case) if isinstance(case.input, str) else ""
        what = f"case '{case.id}' ({case.source})"
        found = chat_template_messages(chat.source, {**variables, "input": text},
                                       where=str(config.path.parent / chat.name), what=what)
        return _attached((*(found or ()), *(() if isinstance(case.input, str) else case.input)), case)
    if prompt.system:
        system = _render(prompt.system, variables, where=where, field="prompt.system", case=case)
        messages.append(Message(role="system", content=system))
    if isinstance(case.input, str):
        text = case.input
        if case.templated:
            text = _render(text, variables, where=case.source.rsplit(":", 1)[0], field="input", case=case)
        user = _render(config.user_template, {**variables, "input": text}, where=_template_file(config),
                       field="prompt.user", case=case)
        messages.append(Message(role="user", content=user))
    else:
        messages.extend(case.input)
    return _attached(tuple(messages), case)


def _attached(messages: tuple[Message, ...], case: Case) -> tuple[Message, ...]:
    """The messages with the case's `file:` attachments added to the last user message."""
    if not case.attachments:
        return messages
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last is None:
        return (*messages, Message(role="user", parts=case.attachments))
    updated = messages[last].model_copy(update={"parts": (*messages[last].parts, *case.attachments)})
    return (*messages[:last], updated, *messages[last + 1:])


def _template_file(config: LoadedConfig) -> str:
    """Where the user template is written: the prompt file, or the config."""
    found = config.prompt_file
    return str(config.path.parent / found.name) if found is not None and not found.chat else str(config.path)


def render_user_turn(case: Case, config: LoadedConfig, text: str, *, template: bool = True) -> tuple[str, str]:
    """A conversation's user turn: (the text with the case's vars filled in, that text in the user template).

    A simulated user's words are not a template (`template=False`): only the config's template is rendered.
    """
    variables: dict[str, object] = dict(case.vars)
    if template and case.templated:
        text = _render(text, variables, where=case.source.rsplit(":", 1)[0], field="conversation", case=case)
    wrapper = "{{ input }}" if config.prompt_file is not None and config.prompt_file.chat else config.user_template
    user = _render(wrapper, {**variables, "input": text}, where=_template_file(config), field="prompt.user",
                   case=case)
    return text, user


def render_input(case: Case) -> str:
    """A text input with the case's vars filled in (what agents get as `input`), when the suite's
    `templated_inputs` says it is a template; verbatim otherwise (a conversation's turn is rendered already)."""
    assert isinstance(case.input, str)
    if not case.templated or case.is_conversation:
        return case.input
    return _render(case.input, dict(case.vars), where=case.source.rsplit(":", 1)[0], field="input", case=case)


def recorded_history(case: Case) -> tuple[Message, ...]:
    """What a recorded answer answered: its conversation's earlier turns, else the case's input (no config prompt:
    the answer was produced elsewhere)."""
    assert case.recorded is not None
    if case.recorded.messages:
        return _attached(case.recorded.messages, case)
    if isinstance(case.input, str):
        return _attached((Message(role="user", content=render_input(case)),) if case.input else (), case)
    return _attached(case.input, case)
