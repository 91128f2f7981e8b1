"""Who a mail brings into a ticket (intake/people.py): the customer is the Reply-To a web form names,
the From behind it still counts, the people copied join, and none of them is ever one of our own."""

from __future__ import annotations

from tests.pipeline.helpers import mail
from ticketctl.engine.intake import people
from ticketctl.engine.mail import message

OWN = {"support@example.com", "sales@example.com", "lead@example.com", "ticketctl@localhost"}


def of(**headers: str) -> people.People:
    return people.of_mail(message.parse(mail(**headers)), OWN)  # type: ignore[arg-type]


def emails(found: people.People) -> tuple[str | None, str | None, list[str]]:
    return (
        found.customer.email if found.customer else None,
        found.behind.email if found.behind else None,
        [a.email for a in found.copied],
    )


def test_a_web_forms_reply_to_is_the_customer_and_its_from_stays_behind():
    found = of(frm="Shop form <noreply@shop.example>", reply_to="Paula <paula@customer.example>")
    assert emails(found) == ("paula@customer.example", "noreply@shop.example", [])
    assert found.customer is not None and found.customer.name == "Paula"


def test_without_reply_to_the_from_is_the_customer():
    assert emails(of(reply_to="Jane Customer <jane@customer.example>")) == ("jane@customer.example", None, [])
    assert emails(of()) == ("jane@customer.example", None, [])


def test_the_people_copied_join_but_never_our_own_addresses():
    found = of(
        to="support@example.com, Bob <bob@customer.example>",
        cc="Carl <Carl@Customer.example>, sales@example.com, lead+x@example.com, jane@customer.example, "
        "carl@customer.example",
    )
    assert emails(found) == ("jane@customer.example", None, ["bob@customer.example", "Carl@Customer.example"])


def test_a_reply_to_of_our_own_is_not_taken_for_the_customer():
    assert emails(of(reply_to="support@example.com")) == ("jane@customer.example", None, [])


def test_mail_from_our_own_address_copies_nobody_in():
    assert emails(of(frm="Lena <lead@example.com>", cc="carl@customer.example")) == (None, None, [])


def test_a_machines_mail_copies_nobody_in():
    msg = message.parse(mail(cc="carl@customer.example"))  # type: ignore[arg-type]
    assert people.of_mail(msg, OWN, copies=False).copied == ()
