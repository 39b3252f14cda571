"""Case variables in check values and rubric text: `contains: "{{ order }}"`, `equals: "{{ expected }}"`.

Rendered at load time, per case, in the same Jinja2 sandbox as inputs and only when the suite's
`templated_inputs` says the case's text is a template. The variables are the case's `vars`, plus
`expected` (the case's reference answer) unless a var has that name. Only strings holding `{{` or
`{%` are rendered; `python:` references and JSON Schemas are never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agent_eval.suite.schema import RubricSpec

__all__ = ["case_renderer", "check_variables", "render_check_item", "render_rubric"]

Render = Callable[[str, str], str]  # (template text, field path) -> rendered text
_NEVER = ("python", "schema", "schema_file")


def check_variables(variables: Mapping[str, Any], expected: str | None) -> dict[str, Any]:
    """The names a check value or rubric may use."""
    out = dict(variables)
    if expected is not None:
        out.setdefault("expected", expected)
    return out


def case_renderer(mode: Any, variables: Mapping[str, Any], expected: str | None) -> Render | None:
    """A renderer for one case's check values and rubric text, or None when its text is not a template.

    A template that fails (an undefined name, bad syntax) raises CheckSpecError naming the field.
    """
    from agent_eval.suite.render import renders_templates

    if not renders_templates(mode, variables):
        return None
    names = check_variables(variables, expected)

    def render(text: str, field: str) -> str:
        from jinja2 import TemplateError

        from agent_eval.checks.base import CheckSpecError
        from agent_eval.suite.render import _template as template  # the inputs' bounded sandbox

        try:
            return template(text).render(**names)
        except TemplateError as exc:
            detail = getattr(exc, "message", None) or str(exc)
        except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError, RecursionError) as exc:
            detail = f"{type(exc).__name__}: {exc}"
        raise CheckSpecError(f"cannot render {field or 'the check'} with the case's vars: {detail}")

    return render


def _is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def render_check_item(item: Any, render: Render, path: str = "") -> Any:
    """The check item with every templated string rendered (a new object; the original is untouched)."""
    if isinstance(item, str):
        return render(item, path) if _is_template(item) else item
    if isinstance(item, Mapping):
        return {key: value if key in _NEVER else render_check_item(value, render, f"{path}.{key}" if path else key)
                for key, value in item.items()}
    if isinstance(item, list | tuple):
        return [render_check_item(value, render, f"{path}[{i}]") for i, value in enumerate(item)]
    return item


def render_rubric(rubric: RubricSpec, render: Render) -> RubricSpec:
    """The rubric with its criteria and steps rendered."""
    criteria = render(rubric.criteria, "criteria") if _is_template(rubric.criteria) else rubric.criteria
    steps = tuple(render(s, f"steps[{i}]") if _is_template(s) else s for i, s in enumerate(rubric.steps))
    if criteria == rubric.criteria and steps == rubric.steps:
        return rubric
    return rubric.model_copy(update={"criteria": criteria, "steps": steps})
