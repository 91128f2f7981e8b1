import pytest

from tests.rules.conftest import parsed
from ticketctl.engine.intake.rules import autoreply


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"X_Autoreply": "yes"},
        {"Precedence": "bulk"},
        {"subject": "Out of Office: back on Monday"},
        {"subject": "Automatic reply: your question"},
        {"subject": "Abwesenheitsnotiz: Urlaub"},
    ],
)
def test_auto_replies_are_ignored(view, headers):
    decision = autoreply.check(parsed(**headers), view)
    assert decision.disposition == "ignored"


def test_people_are_not(view):
    assert autoreply.check(parsed(Auto_Submitted="no"), view) is None
    assert autoreply.check(parsed(subject="Re: office move next week"), view) is None
