"""Signed Message-IDs and VERP addresses: they round-trip, and forgeries fail."""

from __future__ import annotations

from ticketctl.engine.mail import msgid

SECRET = "a" * 64


def test_message_id_names_ticket_and_log():
    mid = msgid.make_message_id(SECRET, 123, 456, "example.com")
    assert mid.startswith("t123.l456.") and mid.endswith("@example.com")
    assert msgid.verify_message_id(SECRET, mid) == (123, 456)
    assert msgid.verify_message_id(SECRET, f"<{mid}>") == (123, 456)
    assert msgid.make_message_id(SECRET, 123, 456, "example.com") != mid


def test_forged_or_foreign_message_ids_fail():
    mid = msgid.make_message_id(SECRET, 123, 456, "example.com")
    assert msgid.verify_message_id("b" * 64, mid) is None
    assert msgid.verify_message_id(SECRET, mid.replace("t123.", "t124.", 1)) is None
    assert msgid.verify_message_id(SECRET, "CAFxyz@mail.gmail.com") is None
    assert msgid.verify_message_id(SECRET, "") is None
    assert msgid.verify_message_id(SECRET, msgid.make_message_id(SECRET, None, None, "x.org")) is None


def test_verp_round_trip_and_forgery():
    address = msgid.make_verp(SECRET, 77, "bounces@example.com")
    assert address.startswith("bounces+q77-") and address.endswith("@example.com")
    assert msgid.parse_verp(SECRET, address) == 77
    assert msgid.parse_verp(SECRET, address.upper()) == 77  # some servers change the case
    assert msgid.parse_verp(SECRET, address.replace("+q77-", "+q78-")) is None
    assert msgid.parse_verp("b" * 64, address) is None
    assert msgid.parse_verp(SECRET, "bounces@example.com") is None
    assert msgid.make_verp(SECRET, 5, "bounces+old@example.com").startswith("bounces+q5-")
