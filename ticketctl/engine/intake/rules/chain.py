"""The rule chain, read top to bottom; the first rule that decides wins. `route` always decides.

Each name is a module of this package (dashes become underscores; `mail-loop` is `loop.py`,
`admin-to-self` is `admin_self.py`); `test_chain.py` checks that every name resolves and every module is
listed.
"""

from __future__ import annotations

import importlib

from ticketctl.engine.intake.rules import Check

RULES = (
    "size-limit",
    "parse",
    "duplicate",
    "unreadable",
    "mail-loop",
    "bounce",
    "auto-reply",
    "assignment-writer",
    "subject-tag",
    "references",
    "admin-to-self",
    "not-a-student",
    "route",
)
MODULES = {"mail-loop": "loop", "auto-reply": "autoreply", "admin-to-self": "admin_self"}


def module_name(rule: str) -> str:
    return MODULES.get(rule, rule.replace("-", "_"))


def load() -> list[tuple[str, Check]]:
    """(name, check) for every rule, in order."""
    chain = []
    for name in RULES:
        module = importlib.import_module(f"{__package__}.{module_name(name)}")
        assert module.NAME == name, f"rule module {module.__name__} is named {module.NAME}, listed as {name}"
        chain.append((name, module.check))
    return chain
