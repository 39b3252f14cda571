"""Render a case into the messages sent to the model (Jinja2 sandbox, StrictUndefined)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from agent_eval.errors import InputError
from agent_eval.records import Message

if TYPE_CHECKING:
    from jinja2 import Template

    from agent_eval.suite.case import Case
    from agent_eval.suite.loader import LoadedConfig

__all__ = ["render_input", "render_messages"]


@lru_cache(maxsize=1024)
def _template(source: str) -> Template:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    return env.from_string(source)


def _render(source: str, variables: dict[str, object], *, where: str, field: str, case: Case) -> str:
    from jinja2 import TemplateError

    if "{" not in source:  # plain text: nothing to render, and compiling it costs ~0.5 ms
        return source
    try:
        return _template(source).render(**variables)
    except TemplateError as exc:
        detail = getattr(exc, "message", None) or str(exc)
        raise InputError(where, f"case '{case.id}' ({case.source}): cannot render template: {detail}",
                         field=field) from None


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


def render_input(case: Case) -> str:
    """A text input with the case's vars filled in (what agents get as `input`), when the suite's
    `templated_inputs` says it is a template; verbatim otherwise."""
    assert isinstance(case.input, str)
    if not case.templated:
        return case.input
    return _render(case.input, dict(case.vars), where=case.source.rsplit(":", 1)[0], field="input", case=case)
