"""`ticketctl report` over a store filled with known tickets, logs, status changes, ledger rows, bounces
and queue rows: every figure checked against values worked out by hand (in the comments), in --json,
--csv and the text a person reads."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.staff import builders as b

WINDOW = ("--since", "2026-01-05", "--until", "2026-01-18")  # two ISO weeks: 01-05..01-11, 01-12..01-18
W1, W2 = "2026-01-05", "2026-01-12"
H, D = 3600, 86_400
IGNORED = "ticketctl mail list --disposition ignored"


def at(day: str, time: str = "09:00") -> str:
    return f"2026-{day}T{time}:00Z"


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def plus(stamp: str, seconds: int) -> str:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Desk:
    """Builds tickets the way the engine leaves them: a question in, answers out, status changes."""

    def __init__(self, store):
        self.store = store
        self.boxes = {name: b.mailbox(store, name) for name in ("support", "billing", "bounces")}
        self.types = {
            "Support": b.ticket_type(store, "Support", tag="Support", mailbox_id=self.boxes["support"]),
            "Billing": b.ticket_type(store, "Billing", tag="Billing", mailbox_id=self.boxes["billing"]),
        }
        self.count = 0

    def ticket(self, type_name, created, status="new", answer_after=None, kind="normal", **fields):
        self.count += 1
        email = f"customer{self.count}@example.com"
        contact_id = b.contact(self.store, email) if kind != "error" else None
        fields.setdefault("subject", f"Question {self.count}")
        ticket = b.ticket(
            self.store,
            from_email=email,
            at=created,
            type_id=self.types[type_name] if type_name else None,
            mailbox_id=self.boxes["billing" if type_name == "Billing" else "support"],
            contact_id=contact_id,
            kind=kind,
            status=status,
            **fields,
        )
        b.log(self.store, ticket, "in", from_email=email, created_at=created)
        # the notice to the type's admin, at once: mail out, but not to the customer, so not an answer
        b.log(self.store, ticket, "out", to_email="admin@example.org", created_at=created)
        if answer_after is not None:  # the first answer to the customer, and a second one an hour later
            for after in (answer_after, answer_after + H):
                b.log(
                    self.store,
                    ticket,
                    "out",
                    to_email=email,
                    receiver_contact_id=contact_id,
                    created_at=plus(created, after),
                )
        return ticket

    def change(self, ticket, old, new, when, estimated=0):
        b._insert(
            self.store,
            "ticket_status_changes",
            {"ticket_id": ticket, "old_status": old, "new_status": new, "changed_at": when, "estimated": estimated},
        )

    def mail(self, box, disposition, count, when):
        for _ in range(count):
            self.count += 1
            b._insert(
                self.store,
                "ledger",
                {
                    "mailbox_id": self.boxes[box],
                    "uid": str(self.count),
                    "sha256": f"{self.count:064x}",
                    "size": 100,
                    "disposition": disposition,
                    "rule": "test",
                    "reason": "built by the test",
                    "received_at": when,
                },
            )


@pytest.fixture
def desk(store):
    d = Desk(store)
    t = {}
    # Support, week 1 -------------------------------------------------------------- first answer after
    t[1] = d.ticket("Support", at("01-05"), "resolved", answer_after=H)  # 1h
    d.change(t[1], "answered", "resolved", at("01-06"))  # resolved after 1d
    t[2] = d.ticket("Support", at("01-06", "12:00"), "resolved", answer_after=D)  # 24h: not over 24h
    d.change(t[2], "answered", "resolved", at("01-09", "12:00"))  # 3d
    d.change(t[2], "resolved", "open", at("01-10"))  # reopened ...
    d.change(t[2], "open", "resolved", at("01-13"))  # ... resolved again: not a second resolution
    t[3] = d.ticket("Support", at("01-07", "08:00"), "open", answer_after=2 * D)  # 48h: late
    t[9] = d.ticket("Support", at("01-10", "10:00"), "answered", answer_after=2700)  # 45m
    t[10] = d.ticket("Support", at("01-11", "11:00"), "answered", answer_after=900)  # 15m
    # Support, week 2
    t[4] = d.ticket("Support", at("01-12"), "resolved", answer_after=1800)  # 30m
    d.change(t[4], "answered", "resolved", at("01-20"))  # after the window
    t[5] = d.ticket("Support", at("01-13", "10:00"), "new")  # never answered
    t[6] = d.ticket("Support", at("01-14", "10:00"), "waiting", answer_after=2 * H)  # 2h
    t[7] = d.ticket("Support", at("01-16", "08:00"), "answered", answer_after=300)  # 5m
    t[8] = d.ticket("Support", at("01-17"), "answered", answer_after=1200)  # 20m
    t[11] = d.ticket("Support", at("01-18", "20:00"), "answered", answer_after=H)  # 1h
    # Billing
    t[12] = d.ticket("Billing", at("01-05", "15:00"), "resolved", answer_after=600)  # 10m
    d.change(t[12], "answered", "resolved", at("01-12", "15:00"))  # 7d exactly: not over 7d
    t[13] = d.ticket("Billing", at("01-08", "10:00"), "closed", answer_after=12 * H)  # 12h
    d.change(t[13], "answered", "closed", at("01-16", "10:00"))  # 8d: late
    t[14] = d.ticket("Billing", at("01-15"), "open")  # never answered
    # no type: an invalid ticket (counted in speed) and an error ticket (no customer: not in speed)
    t[15] = d.ticket(None, at("01-07", "14:00"), "new", kind="invalid")
    t[16] = d.ticket(None, at("01-08", "16:00"), "new", kind="error")
    # outside the window: created before, resolved inside (estimated: before the status history) ...
    t[20] = d.ticket("Support", at("01-02"), "closed", answer_after=H)
    d.change(t[20], None, "closed", at("01-07", "08:00"), estimated=1)  # 4d 23h
    # ... first resolved before the window, resolved again inside it: not counted
    t[21] = d.ticket("Support", "2025-12-20T09:00:00Z", "resolved")
    d.change(t[21], "new", "resolved", "2025-12-22T09:00:00Z")
    d.change(t[21], "resolved", "open", at("01-09"))
    d.change(t[21], "open", "resolved", at("01-10"))
    # the edges of the window
    d.ticket("Support", "2026-01-04T23:59:59Z", "resolved", answer_after=60)
    d.ticket("Support", "2026-01-19T00:00:00Z", "resolved", answer_after=60)
    # open now, by age (outside the window): < 1 day, 1-3 days, 3-7 days twice
    d.ticket("Support", ago(hours=2), "new")
    d.ticket("Billing", ago(days=2), "open")
    d.ticket("Support", ago(days=5), "waiting")
    d.ticket("Support", ago(days=3, hours=1), "new")
    # mail taken in
    d.mail("support", "new_ticket", 5, at("01-06"))
    d.mail("support", "reply", 3, at("01-07"))
    d.mail("support", "ignored", 1, at("01-08"))
    d.mail("support", "rejected", 1, at("01-08"))
    d.mail("support", "invalid_ticket", 1, at("01-07", "14:00"))
    d.mail("support", "error_ticket", 1, at("01-08", "16:00"))
    d.mail("billing", "new_ticket", 2, at("01-05", "15:00"))
    d.mail("support", "new_ticket", 4, at("01-13"))
    d.mail("support", "reply", 2, at("01-14"))
    d.mail("support", "duplicate", 1, at("01-14"))
    d.mail("bounces", "bounce", 2, at("01-15"))
    d.mail("billing", "new_ticket", 1, at("01-15"))
    d.mail("billing", "ignored", 1, at("01-18", "23:59"))
    d.mail("support", "new_ticket", 1, "2026-01-04T23:59:59Z")
    d.mail("support", "ignored", 1, "2026-01-19T00:00:00Z")
    # bounces and outgoing mail that failed
    b.bounce(d.store, ticket_id=t[4], resolved=1, created_at=at("01-14"))
    b.bounce(d.store, ticket_id=t[14], created_at=at("01-15"))
    b.bounce(d.store, ticket_id=t[14], created_at=at("01-20"))
    b.queued(d.store, status="failed", ticket_id=t[3], created_at=at("01-10"))
    b.queued(d.store, status="failed", ticket_id=t[3], created_at=at("01-25"))
    b.queued(d.store, status="pending", ticket_id=t[3], created_at=at("01-11"))
    return d


def report_json(cli, *args):
    result = cli("report", *WINDOW, *args, "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


# --- the figures, as a script reads them --------------------------------------------------------------


def test_volume_per_week_by_type(cli, desk):
    data = report_json(cli)
    w1, w2 = data["volume"]
    assert (w1["label"], w1["start"], w1["end"]) == (W1, "2026-01-05", "2026-01-11")
    assert (w2["label"], w2["start"], w2["end"]) == (W2, "2026-01-12", "2026-01-18")
    # week 1 opened: Support 1 2 3 9 10, Billing 12 13, invalid 15, error 16; resolved: 1, 2, 20
    assert (w1["opened"], w1["resolved"], w1["mail_in"]) == (9, 3, 14)
    assert w1["opened_by_type"] == {"Support": 5, "Billing": 2, "(invalid)": 1, "(error)": 1}
    assert w1["resolved_by_type"] == {"Support": 3}
    # week 2 opened: Support 4 5 6 7 8 11, Billing 14; resolved: 12, 13 (not 2 again, not 4 on 01-20)
    assert (w2["opened"], w2["resolved"], w2["mail_in"]) == (7, 2, 11)
    assert w2["opened_by_type"] == {"Support": 6, "Billing": 1}
    assert w2["resolved_by_type"] == {"Billing": 2}
    # first answers of the tickets opened in each week, sorted:
    # week 1: 600 900 2700 3600 43200 86400 172800 -> 3600; week 2: 300 1200 1800 3600 7200 -> 1800
    assert (w1["first_answer_median_seconds"], w2["first_answer_median_seconds"]) == (3600, 1800)
    assert data["types"] == ["Support", "Billing", "(error)", "(invalid)"]
    assert data["mail_in"] == {
        "new_ticket": 12,
        "reply": 5,
        "ignored": 2,
        "rejected": 1,
        "invalid_ticket": 1,
        "error_ticket": 1,
        "duplicate": 1,
        "bounce": 2,
    }


def times(count, median, p90, late):
    return {"count": count, "median_seconds": median, "p90_seconds": p90, "late": late}


def test_speed_medians_and_90th_percentiles(cli, desk):
    speed = {s["type"]: s for s in report_json(cli)["speed"]}
    assert list(speed) == ["Support", "Billing", "(invalid)", None]  # error tickets have no customer
    assert speed["Support"] == {
        "type": "Support",
        "tickets": 11,
        # answers: 300 900 1200 1800 2700 3600 3600 7200 86400 172800 (ticket 5 unanswered): median
        # (2700 + 3600) / 2; 90th: rank ceil(0.9 * 10) = 9 -> 86400; over 24h: only 172800
        "first_answer": times(10, 3150, 86400, 1),
        "unanswered": 1,
        "unanswered_late": 1,
        # resolutions: ticket 1 86400, ticket 2 259200, ticket 20 428400 (estimated)
        "resolution": times(3, 259200, 428400, 0),
        "resolution_estimated": 1,
    }
    assert speed["Billing"] == {
        "type": "Billing",
        "tickets": 3,
        "first_answer": times(2, 21900, 43200, 0),  # 600 43200: 90th rank ceil(1.8) = 2
        "unanswered": 1,
        "unanswered_late": 1,
        "resolution": times(2, 648000, 691200, 1),  # 604800 (7d: not over 7d), 691200
        "resolution_estimated": 0,
    }
    assert speed["(invalid)"] == {
        "type": "(invalid)",
        "tickets": 1,
        "first_answer": times(0, None, None, 0),
        "unanswered": 1,
        "unanswered_late": 1,
        "resolution": times(0, None, None, 0),
        "resolution_estimated": 0,
    }
    assert speed[None] == {
        "type": None,
        "tickets": 15,
        # 300 600 900 1200 1800 2700 3600 3600 7200 43200 86400 172800: median 3150, 90th rank 11
        "first_answer": times(12, 3150, 86400, 1),
        "unanswered": 3,
        "unanswered_late": 3,
        # 86400 259200 428400 604800 691200: median 428400, 90th rank ceil(4.5) = 5
        "resolution": times(5, 428400, 691200, 1),
        "resolution_estimated": 1,
    }


def test_thresholds_change_what_counts_as_late(cli, desk):
    every = report_json(cli, "--answer-within", "1h", "--resolve-within", "3d")["speed"][-1]
    # answers over 1h: 7200 43200 86400 172800; resolutions over 3d: 428400 604800 691200
    assert (every["first_answer"]["late"], every["resolution"]["late"]) == (4, 3)
    assert report_json(cli, "--answer-within", "1h")["window"]["answer_within_seconds"] == 3600


def test_backlog_by_age_oldest_first(cli, desk):
    backlog = report_json(cli)["backlog"]
    # open now: Support 3 5 6 7 8 9 10 11, Billing 14, invalid 15, error 16 (all 7+ days), and the four
    # made relative to now
    assert [(a["label"], a["count"]) for a in backlog["buckets"]] == [
        ("7+ days", 11),
        ("3-7 days", 2),
        ("1-3 days", 1),
        ("< 1 day", 1),
    ]
    assert backlog["buckets"][0]["by_type"] == {"Support": 8, "Billing": 1, "(invalid)": 1, "(error)": 1}
    assert backlog["buckets"][1]["by_type"] == {"Support": 2}
    assert backlog["buckets"][2]["by_type"] == {"Billing": 1}
    assert backlog["open"] == 15
    assert backlog["by_status"] == {"new": 5, "open": 3, "answered": 5, "waiting": 2}
    assert [(t["subject"], t["type"], t["status"]) for t in backlog["oldest"]] == [
        ("Question 3", "Support", "open"),
        ("Question 15", "(invalid)", "new"),
        ("Question 16", "(error)", "new"),
        ("Question 4", "Support", "answered"),
        ("Question 5", "Support", "answered"),
    ]


def test_mail_health_with_the_commands_that_list_it(cli, desk):
    health = {m["key"]: m for m in report_json(cli)["mail_health"]}
    assert {k: m["count"] for k, m in health.items()} == {
        "error_tickets": 1,
        "invalid_tickets": 1,
        "ignored_mail": 2,
        "refused_mail": 1,
        "bounces": 2,
        "failed_mail": 1,
        "held_mail": 0,
        "suppressed_mail": 0,
    }
    assert health["bounces"]["unresolved"] == 1
    assert health["failed_mail"]["command"] == "ticketctl queue list --status failed"
    assert health["ignored_mail"]["command"] == "ticketctl mail list --disposition ignored"
    assert health["bounces"]["command"] == "ticketctl bounces list"


def test_one_type_narrows_tickets_and_the_mail_of_its_mailbox(cli, desk):
    data = report_json(cli, "--type", "Billing")
    assert [(p["opened"], p["resolved"], p["mail_in"]) for p in data["volume"]] == [(2, 0, 2), (1, 2, 2)]
    assert [s["type"] for s in data["speed"]] == ["Billing"]  # one type: no "all types" row
    assert [(a["label"], a["count"]) for a in data["backlog"]["buckets"]] == [
        ("7+ days", 1),
        ("3-7 days", 0),
        ("1-3 days", 1),
        ("< 1 day", 0),
    ]
    health = {m["key"]: (m["count"], m.get("unresolved")) for m in data["mail_health"]}
    assert health["ignored_mail"] == (1, None)  # billing's mailbox only
    assert health["bounces"] == (1, 1)  # matched to Billing's ticket 14
    assert health["failed_mail"] == (0, None) and health["refused_mail"] == (0, None)


def test_by_day(cli, desk):
    volume = report_json(cli, "--by", "day", "--since", "2026-01-06", "--until", "2026-01-08")["volume"]
    # 01-06: ticket 2; resolved 1.  01-07: 3, 15; resolved 20.  01-08: 13, 16
    assert [(p["label"], p["opened"], p["resolved"]) for p in volume] == [
        ("2026-01-06", 1, 1),
        ("2026-01-07", 2, 1),
        ("2026-01-08", 2, 0),
    ]


def test_csv_for_spreadsheets(cli, desk):
    result = cli("report", *WINDOW, "--csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    cell = {(r["section"], r["period"], r["type"], r["metric"]): r["value"] for r in rows}
    assert [(r["metric"], r["value"]) for r in rows if r["section"] == "window"] == [
        ("since", "2026-01-05"),
        ("until", "2026-01-18"),
        ("by", "week"),
        ("type", "all"),
        ("mailbox", "all"),
    ]
    assert cell[("volume", W1, "", "opened")] == "9"
    assert cell[("volume", W1, "Support", "opened")] == "5"
    assert cell[("volume", W2, "Billing", "resolved")] == "2"
    assert cell[("speed", "", "Support", "first answer median seconds")] == "3150"
    assert cell[("speed", "", "Support", "first answer count")] == "10"
    assert cell[("speed", "", "all types", "resolution p90 seconds")] == "691200"
    assert cell[("speed", "", "all types", "resolution late")] == "1"
    assert cell[("speed", "", "(invalid)", "first answer median seconds")] == ""
    assert cell[("backlog", "", "", "age 7+ days")] == "11"
    assert cell[("backlog", "", "Support", "age 3-7 days")] == "2"
    assert cell[("mail_health", "", "", "bounces unresolved")] == "1"


# --- the text a person reads ----------------------------------------------------------------------


def rows_of(text: str) -> dict[str, list[str]]:
    """Each table line by its first cell: tokens split on runs of two spaces or more."""
    found: dict[str, list[list[str]]] = {}
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) > 1:
            found.setdefault(cells[0], []).append(cells[1:])
    return found  # type: ignore[return-value]


def test_text_shows_the_same_figures(cli, desk):
    result = cli("report", *WINDOW)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Report 2026-01-05 to 2026-01-18 (UTC), by week; all types, all mailboxes" in out
    rows = rows_of(out)
    assert rows[W1] == [["9", "3", "14"]] and rows[W2] == [["7", "2", "11"]]
    first_answer, resolution = rows["Support"][:2]
    assert first_answer == ["11", "10", "53m", "1d", "1", "1", "1"]  # 3150 s shown as 53m
    assert resolution == ["3", "3d", "4d 23h", "0", "1"]
    assert rows["Billing"][:2] == [["3", "2", "6h 05m", "12h", "0", "1", "1"], ["2", "7d 12h", "8d", "1", "0"]]
    assert rows["all types"][:2] == [["15", "12", "53m", "1d", "1", "3", "3"], ["5", "4d 23h", "8d", "1", "1"]]
    assert rows["(invalid)"][0] == ["1", "0", "-", "-", "0", "1", "1"]
    # backlog by type and age, oldest first, then the total row
    assert rows["Support"][2] == ["8", "2", "0", "1", "11"]
    assert rows["all types"][2] == ["11", "2", "1", "1", "15"]
    assert "Backlog now: 15 open (new 5, open 3, answered 5, waiting 2)" in out
    days = (datetime.now(UTC) - datetime(2026, 1, 7, 8, tzinfo=UTC)).days  # ticket 3, the oldest open one
    assert rows["3"] in ([["Support", "open", f"{n}d", "Question 3"]] for n in (days, days + 1))
    assert rows["2"] == [["ignored mail", IGNORED], ["bounces (1 unresolved)", "ticketctl bounces list"]]
    assert rows["1"] == [
        ["error tickets", "ticketctl tickets list --error"],
        ["invalid tickets", "ticketctl tickets list --invalid"],
        ["refused mail", "ticketctl mail list --disposition rejected"],
        ["failed outgoing mail", "ticketctl queue list --status failed"],
    ]
    assert "Opened by type: Support 11, Billing 3, (error) 1, (invalid) 1" in out
    assert "Mail in: 25 (12 new tickets, 5 replies, 2 ignored, 2 bounces," in out
    assert "1 resolution time(s) are estimated" in out


def test_piped_text_has_plain_numbers_and_fits_80_columns(cli, desk):
    result = cli("report", *WINDOW, env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout
    assert not set(result.stdout) & set("█▓▒░▁▂▃▄▅▆▇")  # no bars or sparklines in a pipe
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_no_tickets_at_all(cli, store):
    result = cli("report", *WINDOW)
    assert result.exit_code == 0, result.stdout
    assert "Backlog now: 0 open" in result.stdout
    data = json.loads(cli("report", *WINDOW, "--json").stdout)
    assert [s["type"] for s in data["speed"]] == [None]
    assert data["speed"][0]["first_answer"]["median_seconds"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "05/01/2026"), "--since '05/01/2026' is not a date; give it as YYYY-MM-DD."),
        (("--since", "2026-02-01", "--until", "2026-01-01"), "--since 2026-02-01 is after --until 2026-01-01"),
        (("--by", "year"), "--by 'year' is not valid; use day, week or month."),
        (("--answer-within", "soon"), "--answer-within 'soon' is not a duration"),
        (("--type", "Nope"), "Nope"),
        (("--by", "day", "--since", "2020-01-01", "--until", "2026-01-01"), "more than 400 periods"),
        (("--json", "--csv"), "Give --json or --csv, not both."),
    ],
)
def test_bad_options_are_one_sentence(cli, store, args, message):
    result = cli("report", *args)
    assert result.exit_code == 1
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr + result.stdout


# --- the screen: a real pseudo-terminal at 80 columns, and a real pipe -----------------------------

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def run_ticketctl(workdir, *args, tty: bool) -> str:
    """`python -m ticketctl ARGS` as a person runs it: on a pseudo-terminal of 80 columns, or piped."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR")}
    env.update(TERM="xterm-256color", PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    command = [sys.executable, "-m", "ticketctl", *args]
    if not tty:
        done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, timeout=60, check=True)
        return done.stdout.decode()
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 80, 0, 0))
    proc = subprocess.Popen(command, cwd=workdir, env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=60) == 0, b"".join(chunks).decode()
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_on_a_terminal_of_80_columns_the_picture_fits(desk, workdir):
    from rich.cells import cell_len

    screen = run_ticketctl(workdir, "report", *WINDOW, tty=True)
    assert "\x1b[" in screen  # a terminal gets colours ...
    text = ANSI.sub("", screen)
    assert "\x1b" not in text
    lines = text.splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    # ... bars: (80 - 40) // 2 = 20 cells for the week's 9 tickets, the largest figure; stacked by type,
    # each segment ending at round(20 * running total / 9): Support 5 -> 11, Billing 7 -> 16, (error)
    # 8 -> 18, (invalid) 9 -> 20; resolved 3 -> 7 cells
    week1 = next(line for line in lines if line.startswith(W1))
    assert re.findall(r"[█▓▒░]+", week1) == ["█" * 11 + "▓" * 5 + "▒" * 2 + "░" * 2, "█" * 7]
    week2 = next(line for line in lines if line.startswith(W2))  # opened 6 + 1 -> 13 + 3; resolved 2 -> 4
    assert re.findall(r"[█▓▒░]+", week2) == ["█" * 13 + "▓" * 3, "▓" * 4]
    # sparklines from zero to the largest value, in 7 steps: 14 then 11 (round(7 * 11 / 14) = 6);
    # 1h then 30m (round(3.5) = 4)
    assert "Mail in per week: █▇ 11 to 14" in text
    assert "First answer, median per week: █▅ 30m to 1h" in text
    assert "█ Support  ▓ Billing  ▒ (error)  ░ (invalid)" in text
    # the numbers are all still there
    assert re.search(r"^2026-01-05\s+9\s+[█▓▒░]+\s+3\s+█+\s+14\s*$", week1)
    assert re.search(r"^7\+ days\s+11\s+█+\s*$", text, re.M)


def test_piped_it_prints_no_escape_sequences(desk, workdir):
    out = run_ticketctl(workdir, "report", *WINDOW, tty=False)
    assert "\x1b" not in out
    assert not set(out) & set("█▓▒░▁▂▃▄▅▆▇")
    assert re.search(r"^2026-01-05\s+9\s+3\s+14\s*$", out, re.M)
    assert max(len(line) for line in out.splitlines()) <= 80  # no COLUMNS: Rich's 80 for a pipe


def test_waiting_is_late_only_past_the_threshold(cli, store):
    d = Desk(store)
    d.ticket("Support", ago(hours=2), "new")  # waiting 2h: not late
    d.ticket("Support", ago(hours=30), "new")  # waiting 30h: over 24h
    d.ticket("Support", ago(hours=40), "answered", answer_after=H)
    support = json.loads(cli("report", "--json").stdout)["speed"][0]
    assert (support["tickets"], support["unanswered"], support["unanswered_late"]) == (3, 2, 1)
    assert json.loads(cli("report", "--json", "--answer-within", "1h").stdout)["speed"][0]["unanswered_late"] == 2


def test_help_states_the_definitions(cli):
    result = cli("report", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for words in (
        "the first mail from staff to the customer",
        "first move to resolved or closed",
        "90th percentiles by nearest rank",
        "plain numbers",
        "timed at their last update",
        "--answer-within",
        "--csv",
        "--json",
    ):
        assert words in text


def test_many_types_and_long_names_still_fit_a_terminal_of_80_columns(cli, store):
    d = Desk(store)
    long = "Customer onboarding, account migration and everything else that comes with it"
    for name in (long, "Exams", "Refunds", "Access"):
        d.types[name] = b.ticket_type(store, name, tag=name.split()[0][:8], mailbox_id=d.boxes["support"])
    days = ("01-05", "01-06", "01-07", "01-08", "01-13")
    for day, name in zip(days, ("Support", long, "Exams", "Refunds", "Access"), strict=True):
        d.ticket(name, at(day), "open", answer_after=H)
    d.ticket(long, at("01-14"), "new")
    result = cli("report", *WINDOW, env={"COLUMNS": "80", "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "0"})
    assert result.exit_code == 0, result.stderr
    text = ANSI.sub("", result.stdout)
    assert "█" in text  # drawn as on a terminal
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "░ other" in text  # five types with tickets: three drawn apart, the rest together
    assert "Customer onboarding" in text and "…" in text  # a long name gives way, with an ellipsis
    # ... and never a figure: every row of the first answer table still has its eight cells
    rows = rows_of(text)
    assert rows["all types"][0] == ["6", "5", "1h", "1h", "0", "1", "1"]
    (oldest,) = rows["2"]  # ticket 2 in the oldest open tickets: its type cut, its status, age, subject kept
    assert oldest[0].startswith("Customer onbo") and oldest[0].endswith("…") and len(oldest[0]) == 20
    assert oldest[1] == "open" and oldest[3] == "Question 2"


def test_text_from_mail_cannot_drive_the_terminal(cli, store):
    d = Desk(store)
    d.ticket("Support", ago(days=2), "new", subject="Hi \x1b]0;pwned\x07\x1b[2J [bold]x[/bold]")
    for args in ((), ("--json",), ("--csv",)):
        out = cli("report", *args).stdout
        assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;pwned\\x07" in cli("report").stdout


def test_csv_never_hands_a_spreadsheet_a_formula(cli, store):
    d = Desk(store)
    d.types["=HYPERLINK(1)"] = b.ticket_type(store, "=HYPERLINK(1)", tag="Evil", mailbox_id=d.boxes["support"])
    d.ticket("=HYPERLINK(1)", at("01-06"))
    rows = list(csv.DictReader(io.StringIO(cli("report", *WINDOW, "--csv").stdout)))
    assert {r["type"] for r in rows if r["type"].endswith("HYPERLINK(1)")} == {"'=HYPERLINK(1)"}
