"""Mail held back in the queue, against a real SMTP server (aiosmtpd): rate windows on what the engine sends
by itself (held, until the window has room) and addresses that bounced (suppressed, until the bounce is
resolved). The drains run at chosen moments (`now`); staff see the queue through `ticketctl`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.outbox.conftest import make_ticket, parse, queue_mail
from tests.staff import builders
from ticketctl.engine.config import load_config
from ticketctl.engine.outbound import delivery
from ticketctl.engine.store import queue

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

ADMIN, DEPUTY, CUSTOMER = "admin@example.com", "deputy@example.com", "carla@example.org"
T0 = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def configure(workdir, write_config, smtp):
    """The SMTP outbox with these rate windows (YAML lists), or suppression settings."""

    def write(per_address: str = "[]", per_ticket: str = "[]", suppression: str = ""):
        write_config(smtp.port)
        path = workdir / "ticketctl.yaml"
        extra = f"rate_limits:\n  per_address: {per_address}\n  per_ticket: {per_ticket}\n{suppression}"
        path.write_text(path.read_text() + extra)
        return load_config()

    return write


def _json(cli, *args: str):
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _rows(cli, status: str | None = None) -> dict[int, dict]:
    filters = ("--status", status) if status else ()
    return {r["id"]: r for r in _json(cli, "queue", "list", *filters)["rows"]}


def _copies(smtp) -> Counter[tuple[str, str]]:
    """(Message-ID, address) -> how many times the server got it."""
    return Counter((str(parse(m["data"])["Message-ID"]), a) for m in smtp.messages for a in m["rcpt_tos"])


# --- rate windows -------------------------------------------------------------------------------


def test_mail_over_an_address_window_is_held_in_order_and_goes_when_the_window_has_room(cli, store, smtp, configure):
    config = configure(per_address='["2 in 10m"]')
    ticket = make_ticket(store)
    ids = [queue_mail(store, config, ticket, to=ADMIN, notice=True)[0] for _ in range(5)]

    report = delivery.drain(store, config, now=T0)
    assert (report.sent, report.held) == (ids[:2], ids[2:])
    assert len(smtp.messages) == 2
    held = _rows(cli, "held")
    why = f"At most 2 in 10 minutes go to {ADMIN} (rate_limits.per_address)."
    assert {i: (r["state"], r["next_try"], r["hold_reason"]) for i, r in held.items()} == {
        ids[2]: ("held", _iso(T0 + timedelta(minutes=10)), why),
        ids[3]: ("held", _iso(T0 + timedelta(minutes=10)), why),  # the two sent at T0 leave the window then
        ids[4]: ("held", _iso(T0 + timedelta(minutes=20)), why),  # after them
    }
    assert _rows(cli, "pending") == {}
    listed = cli("queue", "list").stdout
    assert f"Held {ids[4]}, {ids[3]}, {ids[2]}: {why}" in listed
    shown = _json(cli, "queue", "show", str(ids[2]))["recipients"]
    assert [(r["status"], r["attempts"], r["reason"]) for r in shown] == [("held", 0, why)]

    assert delivery.drain(store, config, now=T0 + timedelta(minutes=9, seconds=59)).attempted == 0
    assert delivery.drain(store, config, now=T0 + timedelta(minutes=10)).sent == ids[2:4]
    assert _rows(cli, "held").keys() == {ids[4]}
    assert delivery.drain(store, config, now=T0 + timedelta(minutes=20)).sent == [ids[4]]
    assert len(smtp.messages) == 5 and set(_copies(smtp).values()) == {1}
    assert {r["status"] for r in _rows(cli).values()} == {"sent"}


def test_the_window_that_decides_is_named_and_a_held_mail_is_checked_again_when_it_comes_due(
    cli, store, smtp, configure
):
    config = configure(per_address='["2 in 10m", "3 in 24h"]')
    ticket = make_ticket(store)
    ids = [queue_mail(store, config, ticket, to=ADMIN, notice=True)[0] for _ in range(4)]
    delivery.drain(store, config, now=T0)
    held = _rows(cli, "held")
    assert (held[ids[2]]["next_try"], held[ids[2]]["hold_reason"]) == (
        _iso(T0 + timedelta(minutes=10)),
        f"At most 2 in 10 minutes go to {ADMIN} (rate_limits.per_address).",
    )
    assert (held[ids[3]]["next_try"], held[ids[3]]["hold_reason"]) == (  # the day's fourth: when T0's leave
        _iso(T0 + timedelta(hours=24)),
        f"At most 3 in 24 hours go to {ADMIN} (rate_limits.per_address).",
    )
    late = queue_mail(store, config, ticket, to=ADMIN, notice=True)[0]  # queued meanwhile: it waits its turn
    delivery.drain(store, config, now=T0 + timedelta(minutes=1))
    assert _rows(cli)[late]["next_try"] == _iso(T0 + timedelta(hours=24))

    assert delivery.drain(store, config, now=T0 + timedelta(minutes=10)).sent == [ids[2]]
    assert delivery.drain(store, config, now=T0 + timedelta(hours=23, minutes=59)).attempted == 0
    # then the two of T0 have left the day's window, and the 10 minutes' holds only the one of T0+10m
    assert delivery.drain(store, config, now=T0 + timedelta(hours=24)).sent == [ids[3], late]
    assert len(smtp.messages) == 5


def test_a_ticket_window_holds_the_whole_mail(cli, store, smtp, configure):
    config = configure(per_ticket='["1 in 1h"]')
    ticket = make_ticket(store)
    first = queue_mail(store, config, ticket, to=ADMIN, cc=(DEPUTY,), notice=True)[0]
    second = queue_mail(store, config, ticket, to=ADMIN, cc=(DEPUTY,), notice=True)[0]
    delivery.drain(store, config, now=T0)
    assert [sorted(m["rcpt_tos"]) for m in smtp.messages] == [[ADMIN, DEPUTY]]
    shown = _json(cli, "queue", "show", str(second))
    why = f"At most 1 in 1 hour go out on ticket {ticket.id} (rate_limits.per_ticket)."
    assert [(r["address"], r["status"], r["next_try"]) for r in shown["recipients"]] == [
        (ADMIN, "held", _iso(T0 + timedelta(hours=1))),
        (DEPUTY, "held", _iso(T0 + timedelta(hours=1))),
    ]
    assert shown["state"] == "held" and shown["hold_reason"] == why
    assert _rows(cli)[first]["status"] == "sent"
    delivery.drain(store, config, now=T0 + timedelta(hours=1))
    assert [sorted(m["rcpt_tos"]) for m in smtp.messages] == [[ADMIN, DEPUTY]] * 2


def test_a_staff_reply_is_neither_held_nor_counted(cli, store, smtp, configure):
    config = configure(per_address='["1 in 1h"]', per_ticket='["1 in 1h"]')
    ticket = make_ticket(store)
    relay = queue_mail(store, config, ticket, to=CUSTOMER)[0]  # the admin's answer, relayed: the engine sends it
    assert cli("tickets", "reply", str(ticket.id), "--message", "We are on it.").exit_code == 0
    assert cli("tickets", "reply", str(ticket.id), "--message", "Still on it.").exit_code == 0
    report = delivery.drain(store, config, now=T0)
    assert report.held == [] and len(report.sent) == 3
    assert [m["rcpt_tos"] for m in smtp.messages] == [[CUSTOMER]] * 3
    another = queue_mail(store, config, ticket, to=CUSTOMER)[0]
    assert delivery.drain(store, config, now=T0 + timedelta(minutes=5)).held == [another]
    assert _rows(cli)[relay]["status"] == "sent"
    assert "go out on ticket" in _rows(cli, "held")[another]["hold_reason"]


def test_a_mail_another_drain_is_sending_counts_as_sent_now(cli, store, smtp, configure):
    """Two drains (a cron run and `queue send`) never pass the same slot: the window is checked in the
    commit that claims, where what the other drain claimed counts."""
    config = configure(per_address='["1 in 1h"]')
    ticket = make_ticket(store)
    first = queue_mail(store, config, ticket, to=ADMIN, notice=True)[0]
    second = queue_mail(store, config, ticket, to=ADMIN, notice=True)[0]
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = open(f"/proc/{other.pid}/stat").read().rsplit(")", 1)[1].split()[19]
        (row, _) = queue.due(store, _iso(T0))
        queue.claim(store, [row], f"{socket.gethostname()}/{other.pid}/{started}", _iso(T0))
        report = delivery.drain(store, config, now=T0)
        assert (report.sent, report.held) == ([], [second]) and smtp.messages == []
        assert _rows(cli)[first]["status"] == "sending"
    finally:
        os.kill(other.pid, signal.SIGKILL)
        other.wait()
    report = delivery.drain(store, config, now=T0 + timedelta(seconds=1))  # the dead drain's claim taken back
    assert report.sent == [first] and report.held == []
    assert [m["rcpt_tos"] for m in smtp.messages] == [[ADMIN]]
    assert _rows(cli, "held").keys() == {second}


def test_held_mail_is_in_status_and_report_and_a_retry_does_not_release_it(cli, store, smtp, configure):
    config = configure(per_address='["1 in 1h"]')
    ticket = make_ticket(store)
    queue_mail(store, config, ticket, to=ADMIN, notice=True)
    held = queue_mail(store, config, ticket, to=ADMIN, notice=True)[0]
    delivery.drain(store, config)
    status = cli("status")
    assert "held back" not in "\n".join(json.loads(cli("status", "--json").stdout)["problems"])  # a warning
    assert "Email queue: 0 pending, 1 held, 0 sending, 0 failed." in status.stdout
    assert "1 outgoing mail(s) are held back by the rate windows (the first may go at" in status.stderr
    health = {m["key"]: m for m in _json(cli, "report")["mail_health"]}
    assert (health["held_mail"]["count"], health["held_mail"]["command"]) == (1, "ticketctl queue list --status held")
    refused = cli("queue", "retry", str(held))
    assert refused.exit_code == 1 and f"Mail {held} is held until" in refused.stderr
    assert "rate_limits.per_address" in refused.stderr and "Traceback" not in refused.stderr


# --- suppression --------------------------------------------------------------------------------


def test_an_address_that_bounced_for_good_is_suppressed_until_the_bounce_is_resolved(cli, store, smtp, configure):
    config = configure()
    ticket = make_ticket(store)
    bounce = builders.bounce(store, ADMIN, kind="permanent", status_code="5.1.1")
    notice = queue_mail(store, config, ticket, to=ADMIN, cc=(DEPUTY,), notice=True)[0]
    report = delivery.drain(store, config, now=T0)
    assert (report.sent, report.held) == ([notice], [notice])
    assert [m["rcpt_tos"] for m in smtp.messages] == [[DEPUTY]]  # the deputy gets it now, the admin does not
    row = _rows(cli)[notice]
    why = f"{ADMIN} bounced for good (bounce {bounce}, 5.1.1); `ticketctl bounces resolve {bounce}` releases it."
    assert (row["state"], row["next_try"], row["hold_reason"]) == ("suppressed (1/2 sent)", None, why)
    assert _rows(cli, "suppressed").keys() == {notice}
    admin = _json(cli, "queue", "show", str(notice))["recipients"][0]
    assert (admin["status"], admin["bounce_id"], admin["attempts"]) == ("suppressed", bounce, 0)
    assert f"Kept back: queued mail {notice}" in cli("bounces", "show", str(bounce)).stdout
    assert "1 outgoing mail(s) are suppressed because their address bounced" in cli("status").stderr
    assert f"Mail {notice} is suppressed: {why}" in cli("queue", "retry", str(notice)).stderr
    assert delivery.drain(store, config, now=T0 + timedelta(days=30)).attempted == 0  # no time of its own
    # a staff reply to the address is suppressed too: it would only bounce again
    bounce_customer = builders.bounce(store, CUSTOMER, kind="permanent")
    assert cli("tickets", "reply", str(ticket.id), "--message", "Hello?").exit_code == 0
    (reply,) = delivery.drain(store, config, now=T0).held
    assert _rows(cli)[reply]["state"] == "suppressed"

    done = cli("bounces", "resolve", str(bounce), "--json")
    assert json.loads(done.stdout)["released"] == [notice]
    assert _rows(cli)[notice]["state"] == "pending (1/2 sent)"
    delivery.drain(store, config, now=T0 + timedelta(minutes=1))
    assert [m["rcpt_tos"] for m in smtp.messages] == [[DEPUTY], [ADMIN]], "the deputy never gets it twice"
    assert _rows(cli)[notice]["status"] == "sent"
    assert _rows(cli)[reply]["state"] == "suppressed"  # its own bounce is not resolved
    resolved = cli("tickets", "resolve-bounce", str(bounce_customer))
    assert f"Released 1 mail it kept back (queued mail {reply}): it goes at the next send." in resolved.stdout


def test_the_address_the_mail_was_sent_to_counts_too(cli, store, smtp, configure):
    config = configure()
    ticket = make_ticket(store)
    builders.bounce(store, "admin@mail.example.com", original_address=ADMIN, kind="permanent")
    queue_mail(store, config, ticket, to=ADMIN, notice=True)
    assert delivery.drain(store, config, now=T0).sent == [] and smtp.messages == []


def test_a_delay_or_a_report_without_an_address_suppresses_nothing(cli, store, smtp, configure):
    config = configure()
    ticket = make_ticket(store)
    builders.bounce(store, ADMIN, kind="delayed", resolved=0)
    builders.bounce(store, None, kind="permanent")
    queue_mail(store, config, ticket, to=ADMIN, notice=True)
    assert len(delivery.drain(store, config, now=T0).sent) == 1


def test_repeated_temporary_failures_count_as_permanent(cli, store, smtp, configure):
    config = configure(suppression="suppression:\n  temporary_failures: 3\n  within_days: 7\n")
    ticket = make_ticket(store)
    now = datetime.now(UTC)  # as `bounces resolve` sees it
    recent = _iso(now - timedelta(days=1))
    builders.bounce(store, ADMIN, kind="temporary", status_code="4.2.2", created_at=_iso(now - timedelta(days=8)))
    first = builders.bounce(store, ADMIN, kind="temporary", status_code="4.2.2", created_at=recent)
    builders.bounce(store, ADMIN, kind="temporary", status_code="4.2.2", created_at=recent)
    one = queue_mail(store, config, ticket, to=ADMIN, notice=True)[0]
    assert delivery.drain(store, config).sent == [one]  # two within the week: not yet
    third = builders.bounce(store, ADMIN, kind="temporary", status_code="4.2.2", created_at=recent)
    two = queue_mail(store, config, ticket, to=ADMIN, notice=True)[0]
    assert delivery.drain(store, config).held == [two]
    assert _rows(cli)[two]["hold_reason"] == (
        f"{ADMIN} failed for now 3 times within 7 days (bounces {first}, {first + 1}, {third}, 4.2.2); "
        f"`ticketctl bounces resolve {third}` releases it."
    )
    done = cli("bounces", "resolve", str(first))  # two are left: fewer than three
    assert f"Released 1 mail it kept back (queued mail {two})" in done.stdout
    assert delivery.drain(store, config).sent == [two]


def test_resolving_one_of_two_bounces_leaves_the_mail_waiting_for_the_other(cli, store, smtp, configure):
    config = configure()
    ticket = make_ticket(store)
    older = builders.bounce(store, ADMIN, kind="permanent")
    newer = builders.bounce(store, ADMIN, kind="permanent")
    notice = queue_mail(store, config, ticket, to=ADMIN, notice=True)[0]
    delivery.drain(store, config, now=T0)
    assert _json(cli, "queue", "show", str(notice))["recipients"][0]["bounce_id"] == newer
    done = cli("bounces", "resolve", str(newer))
    assert done.exit_code == 0
    assert (
        f"1 mail (queued mail {notice}) stays suppressed: the address has bounce {older} unresolved too." in done.stdout
    )
    shown = _json(cli, "queue", "show", str(notice))
    assert shown["state"] == "suppressed" and shown["recipients"][0]["bounce_id"] == older
    assert f"bounce {older}" in shown["hold_reason"]
    assert delivery.drain(store, config, now=T0).attempted == 0 and smtp.messages == []
    json_done = json.loads(cli("bounces", "resolve", str(older), "--json").stdout)
    assert (json_done["released"], json_done["still_suppressed"]) == ([notice], [])
    assert delivery.drain(store, config, now=T0).sent == [notice]
