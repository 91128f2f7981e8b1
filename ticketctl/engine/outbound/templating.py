"""Jinja2 rendering for the mails the engine writes and for canned responses.

Every template renders in the bounded sandbox (sandbox.py): the shipped ones need nothing more, and
the ones staff write (overrides in `templates_dir`, canned responses) must not reach Python internals
nor take more memory, output or time than a mail needs. Every variable a template names must exist
(StrictUndefined): a missing one is an error, not a blank. A mail template NAME is three files:
NAME.subject, NAME.txt and (optional) NAME.html; a file of the same name in `templates_dir` replaces
the shipped one, and `check_overrides` tries them all before a run takes mail in. Jinja2 is imported
on first use.
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

    from ticketctl.engine.outbound.sandbox import BoundedEnvironment

    paths = [str(templates_dir)] if templates_dir else []
    loader = jinja2.FileSystemLoader([*paths, str(SHIPPED)])
    return BoundedEnvironment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=lambda name: bool(name and name.endswith(".html")),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # read once a run (check_overrides starts afresh): no stat per mail
    )


@functools.lru_cache(maxsize=1)
def _string_environment() -> Any:
    import jinja2

    from ticketctl.engine.outbound.sandbox import BoundedEnvironment

    return BoundedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


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
        except _too_big() as exc:
            raise _stopped(exc, f"the mail template '{name}'") from exc
        parts[part] = _render(compiled, context, f"the mail template '{name}'")
    subject = " ".join((parts["subject"] or "").split())  # a subject is one line
    return Rendered(subject=subject, text=parts["txt"] or "", html=parts["html"])


def check_overrides(templates_dir: Path | None) -> None:
    """Try every template in `templates_dir` as a run would use it: compile each file, and render each
    mail template part (NAME.subject, NAME.txt, NAME.html) with sample values of its context. The first
    problem raises TemplateError naming the file and the line. A run starts with this: it reads the
    templates afresh, then renders from what it compiled (no stat of each file per mail)."""
    _mail_environment.cache_clear()
    if templates_dir is None:
        return
    import jinja2

    from ticketctl.engine.outbound.contexts import sample

    if not templates_dir.is_dir():
        raise TemplateError(
            f"The templates_dir {templates_dir} is not a directory; fix templates_dir in the configuration."
        )
    env = _mail_environment(templates_dir)
    files = sorted(p for p in templates_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    for path in files:
        name = path.relative_to(templates_dir).as_posix()
        what = f"the override template {path}"
        try:
            compiled = env.get_template(name)
        except UnicodeDecodeError:
            raise TemplateError(f"The override template {path} is not UTF-8 text; save it as UTF-8.") from None
        except jinja2.TemplateError as exc:
            raise _template_error(exc, what) from exc
        except _too_big() as exc:
            raise _stopped(exc, what) from exc
        stem, _, part = name.rpartition(".")
        if stem in MAIL_TEMPLATES and part in ("subject", "txt", "html"):
            _render(compiled, sample(Purpose(stem)).variables(), what)


def compile_string(source: str, what: str) -> Any:
    """Compile staff-written template text in the sandbox, or raise TemplateError naming `what`."""
    import jinja2

    env = _string_environment()
    try:
        _refuse_private_attributes(env, source, what)
        return env.from_string(source)
    except jinja2.TemplateError as exc:
        raise _template_error(exc, what) from exc
    except _too_big() as exc:
        raise _stopped(exc, what) from exc


def render_string(source: str, context: Mapping[str, Any], what: str) -> str:
    """Render staff-written template text in the sandbox; every variable it names must exist."""
    return _render(compile_string(source, what), context, what)


def _render(compiled: Any, context: Mapping[str, Any], what: str) -> str:
    import jinja2
    from jinja2.sandbox import SecurityError

    from ticketctl.engine.outbound.sandbox import bounded

    at = ""
    try:
        with bounded():
            return str(compiled.render(dict(context)))
    except BaseException as exc:
        at = _line(exc, compiled)
        if isinstance(exc, SecurityError):
            raise TemplateError(
                f"{_cap(what)} tries to reach outside the template sandbox{at} ({exc}); {_hint(what)}."
            ) from exc
        if isinstance(exc, jinja2.TemplateError):
            raise _template_error(exc, what, at) from exc
        if isinstance(exc, _too_big()):
            raise _stopped(exc, what, at) from exc
        if isinstance(exc, RecursionError):
            raise TemplateError(f"{_cap(what)} calls itself too deeply{at}; fix the template.") from None
        if isinstance(exc, (TypeError, ValueError, ArithmeticError, LookupError, AttributeError)):
            raise TemplateError(f"{_cap(what)} failed to render{at} ({exc}); fix the template.") from exc
        raise


def _too_big() -> type[Exception]:
    from ticketctl.engine.outbound.sandbox import TemplateTooBig

    return TemplateTooBig


def _stopped(exc: Any, what: str, at: str = "") -> TemplateError:
    return TemplateError(f"{_cap(what)} goes beyond what a template may do{at}: it {exc.reason}; make it smaller.")


def _line(exc: BaseException, compiled: Any) -> str:
    """ " at line N" of the template, from the frames Jinja rewrites to point into it; or ""."""
    filename = getattr(compiled, "filename", None) or "<template>"
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" at line {line}" if line else ""


def _refuse_private_attributes(env: Any, source: str, what: str) -> None:
    """Refuse `x.__class__`-style access when the text is saved, not only when a reply is sent."""
    from jinja2 import nodes
    from jinja2.sandbox import SecurityError

    tree = env.parse(source)
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateError(
                f"{_cap(what)} tries to reach outside the template sandbox (attribute '{name}'); {_hint(what)}."
            ) from SecurityError(name)


def _template_error(exc: Exception, what: str, at: str = "") -> TemplateError:
    import jinja2

    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateError(f"{_cap(what)} has a template error at line {exc.lineno}: {exc.message}; fix it.")
    if isinstance(exc, jinja2.UndefinedError):
        return TemplateError(f"{_cap(what)} uses something that is not defined{at} ({exc.message}); {_hint(what)}.")
    return TemplateError(f"{_cap(what)} could not be rendered{at} ({exc}); fix the template.")


def _hint(what: str) -> str:
    if what.startswith(("the mail template", "the override template")):
        return "use only the variables templates/README.md lists for that template"
    return "use only the ticket, contact and type variables"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
