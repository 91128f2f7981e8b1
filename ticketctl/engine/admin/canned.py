"""Canned responses: a name, a subject and a Jinja2 body that staff reuse when replying.

Both subject and body are templates over `ticket`, `contact` and `type`, rendered in Jinja2's sandbox.
They are checked when saved (compiled, and rendered once against sample values, within the sandbox's
bounds), so a template error, a reach outside the sandbox or a template that would eat the machine is
refused then, and again, with the same sentence, when a reply uses it.
"""

from __future__ import annotations

import re
from typing import Any

from ticketctl.engine.errors import ConfigError, NotFound
from ticketctl.engine.outbound.contexts import SAMPLE_VALUES
from ticketctl.engine.outbound.templating import compile_string, render_string
from ticketctl.engine.store import canned
from ticketctl.engine.store.canned import CannedResponse
from ticketctl.engine.store.connection import Store

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

# What a reply renders a canned response with (desk/replies.py), with sample values.
SAMPLE_CONTEXT: dict[str, Any] = {key: SAMPLE_VALUES[key] for key in ("ticket", "contact", "type")}


def check(name: str, subject: str, body: str) -> None:
    """Refuse a canned response whose name is unusable or whose templates do not render safely."""
    if not _NAME.match(name):
        raise ConfigError(
            f"'{name}' is not a usable canned response name; use letters, digits, '.', '_' and '-' (up to 64)."
        )
    if not body.strip():
        raise ConfigError(f"The canned response '{name}' has an empty body; give it some text.")
    for part, source in (("subject", subject), ("body", body)):
        what = f"the {part} of canned response '{name}'"
        compile_string(source, what)
        render_string(source, SAMPLE_CONTEXT, what)


def render(response: CannedResponse, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of a canned response for one ticket; raises TemplateError on any problem."""
    subject = render_string(response.subject, context, f"the subject of canned response '{response.name}'")
    body = render_string(response.body, context, f"the body of canned response '{response.name}'")
    return " ".join(subject.split()), body


def get(store: Store, name: str) -> CannedResponse:
    found = canned.get(store, name)
    if found is None:
        raise NotFound(f"There is no canned response named '{name}'; `ticketctl canned list` shows the names.")
    return found


def list_all(store: Store) -> list[CannedResponse]:
    return canned.list_all(store)


def add(store: Store, name: str, body: str, subject: str = "") -> CannedResponse:
    check(name, subject, body)
    if canned.get(store, name):
        raise ConfigError(f"A canned response named '{name}' already exists; use `ticketctl canned edit`.")
    with store.transaction():
        canned.insert(store, name, subject, body)
    return get(store, name)


def edit(
    store: Store,
    name: str,
    *,
    new_name: str | None = None,
    subject: str | None = None,
    body: str | None = None,
) -> CannedResponse:
    """Change a canned response; arguments left as None keep their value."""
    current = get(store, name)
    final_name = new_name or current.name
    final_subject = current.subject if subject is None else subject
    final_body = current.body if body is None else body
    check(final_name, final_subject, final_body)
    if final_name != name and canned.get(store, final_name):
        raise ConfigError(f"A canned response named '{final_name}' already exists; choose another name.")
    with store.transaction():
        canned.update(store, current.id, final_name, final_subject, final_body)
    return get(store, final_name)


def remove(store: Store, name: str) -> None:
    current = get(store, name)
    with store.transaction():
        canned.delete(store, current.id)
