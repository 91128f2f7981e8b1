"""Jinja2 rendering for the mails the engine writes and for canned responses.

Every template renders in Jinja2's SandboxedEnvironment: the shipped ones need nothing more, and the
ones staff write (overrides in `templates_dir`, canned responses) must not reach Python internals.
Every variable a template names must exist (StrictUndefined): a missing one is an error, not a blank.
A mail template NAME is three files: NAME.subject, NAME.txt and (optional) NAME.html; a file of the
same name in `templates_dir` replaces the shipped one. Jinja2 is imported on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ticketctl.engine.enums import Purpose
from ticketctl.engine.errors import TemplateError

SHIPPED = Path(__file__).resolve().parents[2] / "templates"
MAIL_TEMPLATES = tuple(str(p) for p in Purpose)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None = None


@functools.lru_cache(maxsize=8)
def _mail_environment(templates_dir: Path | None) -> Any:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    paths = [str(templates_dir)] if templates_dir else []
    loader = jinja2.FileSystemLoader([*paths, str(SHIPPED)])
    return SandboxedEnvironment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=lambda name: bool(name and name.endswith(".html")),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@functools.lru_cache(maxsize=1)
def _string_environment() -> Any:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render_mail(template: str, context: Mapping[str, Any], templates_dir: Path | None = None) -> Rendered:
    """Render the mail template `template` (subject, text and HTML) with `context`."""
    import jinja2

    env = _mail_environment(templates_dir)
    parts: dict[str, str | None] = {}
    for part, required in (("subject", True), ("txt", True), ("html", False)):
        name = f"{template}.{part}"
        try:
            compiled = env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            if required:
                raise TemplateError(
                    f"There is no mail template '{name}'; expected one of: {', '.join(MAIL_TEMPLATES)}."
                ) from exc
            parts[part] = None
            continue
        except jinja2.TemplateError as exc:
            raise _template_error(exc, f"the mail template '{name}'") from exc
        parts[part] = _render(compiled, context, f"the mail template '{name}'")
    subject = " ".join((parts["subject"] or "").split())  # a subject is one line
    return Rendered(subject=subject, text=parts["txt"] or "", html=parts["html"])


def compile_string(source: str, what: str) -> Any:
    """Compile staff-written template text in the sandbox, or raise TemplateError naming `what`."""
    import jinja2

    env = _string_environment()
    try:
        _refuse_private_attributes(env, source, what)
        return env.from_string(source)
    except jinja2.TemplateError as exc:
        raise _template_error(exc, what) from exc


def render_string(source: str, context: Mapping[str, Any], what: str) -> str:
    """Render staff-written template text in the sandbox; every variable it names must exist."""
    return _render(compile_string(source, what), context, what)


def _render(compiled: Any, context: Mapping[str, Any], what: str) -> str:
    import jinja2
    from jinja2.sandbox import SecurityError

    try:
        return str(compiled.render(dict(context)))
    except SecurityError as exc:
        raise TemplateError(
            f"{what[0].upper()}{what[1:]} tries to reach outside the template sandbox ({exc}); {_hint(what)}."
        ) from exc
    except jinja2.TemplateError as exc:
        raise _template_error(exc, what) from exc
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise TemplateError(f"{what[0].upper()}{what[1:]} failed to render ({exc}); fix the template.") from exc


def _refuse_private_attributes(env: Any, source: str, what: str) -> None:
    """Refuse `x.__class__`-style access when the text is saved, not only when a reply is sent."""
    from jinja2 import nodes
    from jinja2.sandbox import SecurityError

    tree = env.parse(source)
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateError(
                f"{what[0].upper()}{what[1:]} tries to reach outside the template sandbox "
                f"(attribute '{name}'); {_hint(what)}."
            ) from SecurityError(name)


def _template_error(exc: Exception, what: str) -> TemplateError:
    import jinja2

    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateError(
            f"{what[0].upper()}{what[1:]} has a template error at line {exc.lineno}: {exc.message}; fix it."
        )
    if isinstance(exc, jinja2.UndefinedError):
        return TemplateError(
            f"{what[0].upper()}{what[1:]} uses something that is not defined ({exc.message}); {_hint(what)}."
        )
    return TemplateError(f"{what[0].upper()}{what[1:]} could not be rendered ({exc}); fix the template.")


def _hint(what: str) -> str:
    if what.startswith("the mail template"):
        return "use only the variables templates/README.md lists for that template"
    return "use only the ticket, contact and type variables"
