"""The rule chain, read top to bottom; the first rule that decides wins. `route` always decides. Then
each mark adds what it knows to that decision (`auto-reply`: the mail is automatic, and why).

Each name is a module of this package (dashes become underscores; `mail-loop` is `loop.py`,
`admin-to-self` is `admin_self.py`); `test_chain.py` checks that every name resolves and every module
with a NAME is listed.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ticketctl.engine.intake.rules import Chain

RULES = (
    "size-limit",
    "parse",
    "duplicate",
    "unreadable",
    "mail-loop",
    "bounce",
    "bounce-mailbox",
    "assignment-writer",
    "subject-tag",
    "references",
    "admin-to-self",
    "not-a-student",
    "route",
)
MARKS = ("auto-reply",)
MODULES = {"mail-loop": "loop", "auto-reply": "autoreply", "admin-to-self": "admin_self"}


def module_name(rule: str) -> str:
    return MODULES.get(rule, rule.replace("-", "_"))


def _module(name: str) -> ModuleType:
    module = importlib.import_module(f"{__package__}.{module_name(name)}")
    assert module.NAME == name, f"rule module {module.__name__} is named {module.NAME}, listed as {name}"
    return module


def load() -> Chain:
    """Every rule's (name, check) in order, and every mark's (name, mark)."""
    return Chain(
        rules=tuple((name, _module(name).check) for name in RULES),
        marks=tuple((name, _module(name).mark) for name in MARKS),
    )
