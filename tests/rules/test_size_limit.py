from tests.pipeline.helpers import mail
from ticketctl.engine.intake.rules import size_limit
from ticketctl.engine.mail import message


def test_a_message_read_as_headers_only_is_an_error_ticket_naming_its_size(view):
    msg = message.parse_headers(mail(subject="Huge").split(b"\n\n", 1)[0])
    msg.size = 31_337
    decision = size_limit.check(msg, view)
    assert decision.disposition == "error_ticket"
    assert "31,337 bytes, over the limit of 20,000" in decision.reason


def test_a_whole_message_passes(view):
    assert size_limit.check(message.parse(mail()), view) is None
