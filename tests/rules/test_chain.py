import pkgutil

from ticketctl.engine.intake import pipeline, rules


def test_every_rule_is_listed_once_and_resolves():
    modules = {m.name for m in pkgutil.iter_modules(rules.__path__)}
    assert set(pipeline.RULE_MODULES.values()) == modules
    assert sorted(pipeline.RULES) == sorted(pipeline.RULE_MODULES)
    assert [name for name, _ in pipeline.rule_chain()] == list(pipeline.RULES)
    assert pipeline.RULES[-1] == "route", "the chain must end in the rule that always decides"
