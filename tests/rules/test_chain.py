import importlib
import pkgutil

from ticketctl.engine.intake import rules
from ticketctl.engine.intake.rules import chain


def test_every_rule_and_mark_is_listed_once_and_resolves():
    named = {
        m.name
        for m in pkgutil.iter_modules(rules.__path__)
        if hasattr(importlib.import_module(f"{rules.__name__}.{m.name}"), "NAME")
    }
    listed = (*chain.RULES, *chain.MARKS)
    assert {chain.module_name(name) for name in listed} == named
    assert len(set(listed)) == len(listed)
    loaded = chain.load()
    assert [name for name, _ in loaded.rules] == list(chain.RULES)
    assert [name for name, _ in loaded.marks] == list(chain.MARKS)
    assert chain.RULES[-1] == "route", "the chain must end in the rule that always decides"
