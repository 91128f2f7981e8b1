"""`ticketctl tickets list`: every filter, sorting, paging, JSON, and the refusals."""

from __future__ import annotations

import json

import pytest

from tests.staff import builders as b
from ticketctl.engine.desk import tickets
from ticketctl.engine.store import tickets as ticket_table


@pytest.fixture
def queue(store):
    """Five tickets across two types and two mailboxes, with an invalid and an error ticket."""
    box_a = b.mailbox(store, "alpha")
    box_b = b.mailbox(store, "beta")
    questions = b.ticket_type(store, "Questions", "Support", box_a)
    courses = b.ticket_type(store, "Courses", "Course", box_b)
    carol = b.contact(store, "carol@example.com", "Carol")
    ids = {
        "printer": b.ticket(
            store,
            "Printer on fire",
            "alice@example.com",
            "Alice",
            "2026-01-01T09:00:00Z",
            type_id=questions,
            mailbox_id=box_a,
            status="new",
        ),
        "exam": b.ticket(
            store,
            "Exam dates",
            "carol@example.com",
            "Carol",
            "2026-01-03T09:00:00Z",
            type_id=courses,
            mailbox_id=box_b,
            contact_id=carol,
            status="open",
        ),
        "refund": b.ticket(
            store,
            "Refund please",
            "dave@example.net",
            "Dave Doe",
            "2026-01-02T09:00:00Z",
            type_id=questions,
            mailbox_id=box_a,
            status="resolved",
        ),
        "stray": b.ticket(
            store,
            "Dragged from another box",
            "eve@example.com",
            "Eve",
            "2026-01-04T09:00:00Z",
            mailbox_id=box_b,
            kind="invalid",
        ),
        "broken": b.ticket(
            store,
            "",
            "",
            "",
            "2026-01-05T09:00:00Z",
            mailbox_id=box_a,
            kind="error",
            error_reason="too big",
        ),
    }
    return ids


def listed(cli, *args):
    result = cli("tickets", "list", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return [t["id"] for t in json.loads(result.stdout)["tickets"]]


def test_default_lists_all_by_latest_activity(cli, queue):
    q = queue
    assert listed(cli) == [q["broken"], q["stray"], q["exam"], q["refund"], q["printer"]]


def test_table_for_people(cli, queue):
    result = cli("tickets", "list")
    assert result.exit_code == 0
    assert "Printer on fire" in result.stdout
    assert "(invalid)" in result.stdout and "(error)" in result.stdout
    assert result.stdout.splitlines()[-1] == "5 tickets."


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--status", "open"), ["exam"]),
        (("--status", "new", "--status", "resolved"), ["broken", "stray", "refund", "printer"]),
        (("--type", "Questions"), ["refund", "printer"]),
        (("--mailbox", "beta"), ["stray", "exam"]),
        (("--contact", "CAROL@example.com"), ["exam"]),
        (("--invalid",), ["stray"]),
        (("--error",), ["broken"]),
        (("--invalid", "--error"), ["broken", "stray"]),
        (("--since", "2026-01-03"), ["broken", "stray", "exam"]),
        (("--since", "2026-01-03T10:00:00Z"), ["broken", "stray"]),
        (("--search", "fire"), ["printer"]),
        (("--search", "dave doe"), ["refund"]),
        (("--search", "example.net"), ["refund"]),
        (("--search", "%"), []),
        (("--search", "_"), []),
        (("--type", "Questions", "--status", "new"), ["printer"]),
    ],
)
def test_filters(cli, queue, args, expected):
    assert listed(cli, *args) == [queue[name] for name in expected]


def test_sort_and_direction(cli, queue):
    q = queue
    assert listed(cli, "--sort", "id", "--asc") == sorted(q.values())
    assert listed(cli, "--sort", "created") == sorted(q.values(), reverse=True)
    assert listed(cli, "--sort", "updated", "--asc") == [
        q["printer"],
        q["refund"],
        q["exam"],
        q["stray"],
        q["broken"],
    ]


def test_paging(cli, queue):
    first = json.loads(cli("tickets", "list", "--json", "--limit", "2").stdout)
    second = listed(cli, "--limit", "2", "--page", "2")
    third = listed(cli, "--limit", "2", "--offset", "4")
    assert first["has_more"] is True
    assert [t["id"] for t in first["tickets"]] + second + third == listed(cli)
    last = json.loads(cli("tickets", "list", "--json", "--limit", "2", "--page", "3").stdout)
    assert last["has_more"] is False
    people = cli("tickets", "list", "--limit", "2")
    assert people.stdout.splitlines()[-1] == "Tickets 1-2 of 5; more with --offset 2."
    assert first["total"] == 5 and first["total_exact"] is True
    assert cli("tickets", "list", "--limit", "2", "--offset", "4").stdout.splitlines()[-1] == "Tickets 5-5 of 5."
    assert cli("tickets", "list", "--offset", "9").stdout.splitlines()[-1] == "No tickets on this page of 5."


def test_empty_result_says_so(cli, queue):
    result = cli("tickets", "list", "--search", "nothing like this")
    assert result.exit_code == 0
    assert "No tickets match." in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--type", "Nope"), "There is no ticket type named 'Nope'"),
        (("--mailbox", "gamma"), "There is no mailbox named 'gamma'"),
        (("--contact", "nobody@example.com"), "There is no contact with the address 'nobody@example.com'"),
        (("--status", "pending"), "Status 'pending' is not valid"),
        (("--since", "last week"), "'last week' is not a date"),
        (("--sort", "subject"), "Sort 'subject:desc' is not valid"),
        (("--page", "2", "--offset", "3"), "Give either --page or --offset, not both."),
        (("--search", "x" * 100_000), "The search text is 100,000 characters long; search for at most 1,000"),
        (("--search", "%_" * 30_000), "The search text is 60,000 characters long; search for at most 1,000"),
    ],
)
def test_refusals(cli, queue, args, message):
    result = cli("tickets", "list", *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_search_beyond_the_first_window_still_finds_everything(store, monkeypatch):
    monkeypatch.setattr(ticket_table, "SEARCH_WINDOW", 2)
    box = b.mailbox(store, "alpha")
    old = b.ticket(store, "needle in the haystack", at="2025-01-01T00:00:00Z", mailbox_id=box)
    for day in range(2, 7):
        b.ticket(store, f"hay {day}", at=f"2026-01-0{day}T00:00:00Z", mailbox_id=box)
    found = tickets.list_tickets(store, tickets.TicketFilters(search="needle"))
    assert [t.id for t in found.tickets] == [old]
    with_filter = tickets.list_tickets(store, tickets.TicketFilters(search="needle", mailbox="alpha"))
    assert [t.id for t in with_filter.tickets] == [old]
    hay = tickets.list_tickets(store, tickets.TicketFilters(search="hay"), limit=2, offset=2)
    assert len(hay.tickets) == 2 and hay.has_more is True
    assert (hay.total, hay.total_exact) == (6, True)  # five hay and the needle in the haystack


def test_the_total_is_a_bounded_count(store, monkeypatch):
    monkeypatch.setattr(tickets, "COUNT_CAP", 3)
    box = b.mailbox(store, "alpha")
    for day in range(1, 7):
        b.ticket(store, f"hay {day}", at=f"2026-01-0{day}T00:00:00Z", mailbox_id=box)
    page = tickets.list_tickets(store, tickets.TicketFilters(), limit=2)
    assert (page.total, page.total_exact, page.has_more) == (3, False, True)
    searched = tickets.list_tickets(store, tickets.TicketFilters(search="hay"), limit=2)
    assert (searched.total, searched.total_exact) == (3, False)
