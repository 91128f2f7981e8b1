import pkgutil

from ticketctl.engine.intake import rules
from ticketctl.engine.intake.rules import chain


def test_every_rule_is_listed_once_and_resolves():
    modules = {m.name for m in pkgutil.iter_modules(rules.__path__)} - {"chain"}
    assert {chain.module_name(name) for name in chain.RULES} == modules
    assert len(set(chain.RULES)) == len(chain.RULES)
    assert [name for name, _ in chain.load()] == list(chain.RULES)
    assert chain.RULES[-1] == "route", "the chain must end in the rule that always decides"
