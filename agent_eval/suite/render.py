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

__all__ = ["TemplatedMode", "render_input", "render_messages", "render_text", "render_user_turn", "renders_templates"]

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


def render_messages(case: Case, config: LoadedConfig) -> tuple[Message, ...]:
    """The system prompt, then the user template around the case input (or the case's messages)."""
    prompt = config.spec.prompt
    where = str(config.path)
    variables: dict[str, object] = dict(case.vars)
    messages: list[Message] = []
    if prompt.system:
        system = _render(prompt.system, variables, where=where, field="prompt.system", case=case)
        messages.append(Message(role="system", content=system))
    if isinstance(case.input, str):
        text = case.input
        if case.templated:
            text = _render(text, variables, where=case.source.rsplit(":", 1)[0], field="input", case=case)
        user = _render(prompt.user, {**variables, "input": text}, where=where, field="prompt.user", case=case)
        messages.append(Message(role="user", content=user))
    else:
        messages.extend(case.input)
    return tuple(messages)


def render_user_turn(case: Case, config: LoadedConfig, text: str, *, template: bool = True) -> tuple[str, str]:
    """A conversation's user turn: (the text with the case's vars filled in, that text in the user template).

    A simulated user's words are not a template (`template=False`): only the config's template is rendered.
    """
    variables: dict[str, object] = dict(case.vars)
    if template and case.templated:
        text = _render(text, variables, where=case.source.rsplit(":", 1)[0], field="conversation", case=case)
    user = _render(config.spec.prompt.user, {**variables, "input": text}, where=str(config.path),
                   field="prompt.user", case=case)
    return text, user


def render_input(case: Case) -> str:
    """A text input with the case's vars filled in (what agents get as `input`), when the suite's
    `templated_inputs` says it is a template; verbatim otherwise (a conversation's turn is rendered already)."""
    assert isinstance(case.input, str)
    if not case.templated or case.is_conversation:
        return case.input
    return _render(case.input, dict(case.vars), where=case.source.rsplit(":", 1)[0], field="input", case=case)
