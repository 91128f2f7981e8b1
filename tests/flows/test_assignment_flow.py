"""The assignment flow over a Maildir, for what the end-to-end tests (tests/e2e/test_assignments.py) do not
walk through: automatic mail, a backlog, a closed assignment, a reassigned non-student, a type whose
courses hold it to its task. What is queued is read from the queue itself."""

from __future__ import annotations

import json

import pytest

from tests.pipeline.helpers import deliver, mail, setup_support
from ticketctl.engine.admin import courses, tickettypes
from ticketctl.engine.config import load_config
from ticketctl.engine.enums import Disposition
from ticketctl.engine.intake import ingest
from ticketctl.engine.intake.rules import Chain, Decision
from ticketctl.engine.intake.sources import Fetched
from ticketctl.engine.store import mailboxes
from ticketctl.engine.store.view import MailboxView

STUDENT, TUTOR, OFFICE = "sam@students.example", "tess@tutors.example", "office@example.com"


@pytest.fixture
def school(workdir, store):
    maildir = workdir / "mail"
    setup_support(store, maildir)
    tickettypes.add(store, name="Homework", task="assignment", email_to=["homework@example.com"], workflow_tag="Hw",
                    mailbox="local", admin_email=OFFICE)  # fmt: skip
    courses.add(store, "WEB101", "Web Design", assignment_type="Homework")
    courses.enrol(store, "WEB101", STUDENT, TUTOR, "Sam Student", "Tess Tutor")
    return maildir


def process(cli, *args: str) -> dict:
    result = cli("process", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["mailboxes"][0]["counts"]


def queued(store) -> list[dict]:
    return [dict(r) for r in store.query("SELECT * FROM email_queue ORDER BY id")]


def assignment(store) -> dict:
    return dict(store.one("SELECT * FROM assignments"))


def submit(cli, store, maildir) -> dict:
    """Sam submits; returns the mail queued for the tutor."""
    deliver(maildir, mail(frm=f"Sam Student <{STUDENT}>", to="homework@example.com", subject="My essay",
                          attachments=[("essay.pdf", b"%PDF essay")]))  # fmt: skip
    assert process(cli) == {"new_ticket": 1}
    (to_tutor,) = queued(store)
    return to_tutor


def test_a_submission_is_an_assignment_and_a_mail_to_the_tutor_with_the_admin_in_copy(cli, store, school):
    to_tutor = submit(cli, store, school)
    assert (to_tutor["purpose"], to_tutor["to_email"], to_tutor["cc"]) == ("assignment_submitted", TUTOR, OFFICE)
    assert to_tutor["reply_to"] == "homework@example.com" and to_tutor["auto_submitted"] == 0
    assert len(json.loads(to_tutor["attachments"])) == 1
    row = assignment(store)
    assert (row["status"], row["submissions"]) == ("submitted", 1)
    inbound = store.one("SELECT to_email FROM ticket_logs WHERE direction = 'in'")
    assert inbound["to_email"] == TUTOR, "the incoming log names who it was passed on to"
    assert store.one("SELECT role FROM contacts WHERE email = ?", (TUTOR,))["role"] == "tutor"


def test_an_out_of_office_from_the_tutor_never_counts_as_feedback(cli, store, school):
    to_tutor = submit(cli, store, school)
    deliver(school, mail(frm=TUTOR, to="homework@example.com", subject="Automatic reply: " + to_tutor["subject"],
                         body="I am away until Monday.", Auto_Submitted="auto-replied"))  # fmt: skip
    assert process(cli) == {"reply": 1}, "kept on the ticket, as a note"
    note = store.one("SELECT automatic FROM ticket_logs WHERE direction = 'in' ORDER BY id DESC LIMIT 1")
    assert "Auto-Submitted: auto-replied" in note["automatic"]
    assert (assignment(store)["status"], len(queued(store))) == ("submitted", 1)


def test_an_automatic_mail_that_reaches_the_ticket_as_a_reply_is_kept_and_advances_nothing(cli, store, school):
    """However an automatic mail reaches the ticket (here as a plain reply, no mark), the flow must not take
    it for the tutor's feedback."""
    to_tutor = submit(cli, store, school)
    ticket = store.one("SELECT id FROM tickets")["id"]
    raw = mail(frm=TUTOR, to="homework@example.com", subject="Re: " + to_tutor["subject"], body="Away.",
               Auto_Submitted="auto-replied")  # fmt: skip
    box = mailboxes.get(store, "local")
    as_a_note = Chain(
        rules=(("note", lambda msg, view: Decision(Disposition.REPLY, "note", "automatic", ticket_id=ticket)),)
    )
    with store.transaction():
        ingest.ingest(
            store, load_config(), box, Fetched("u1", len(raw), raw), as_a_note, MailboxView(store, box.id, 10**6)
        )
    assert store.one("SELECT count(*) AS n FROM ticket_logs WHERE direction = 'in'")["n"] == 2, "the mail is kept"
    assert (assignment(store)["status"], assignment(store)["submissions"], len(queued(store))) == ("submitted", 1, 1)


def test_a_backlog_writes_the_assignment_but_sends_nothing(cli, store, school):
    deliver(school, mail(frm=STUDENT, to="homework@example.com", subject="Old essay"))
    assert process(cli, "--backlog") == {"new_ticket": 1}
    assert (assignment(store)["status"], queued(store)) == ("submitted", [])


def test_a_closed_assignment_takes_no_more_attempts_but_keeps_the_mail_for_staff(cli, store, school):
    to_tutor = submit(cli, store, school)
    assert cli("assignments", "close", "1", "--result", "competent").exit_code == 0
    deliver(school, mail(frm=STUDENT, to="homework@example.com", subject="Re: " + to_tutor["subject"],
                         body="One more version!"))  # fmt: skip
    assert process(cli) == {"reply": 1}
    row = assignment(store)
    assert (row["status"], row["submissions"], row["result"], len(queued(store))) == ("completed", 1, "competent", 1)
    assert store.one("SELECT status FROM tickets")["status"] == "open", "staff see that the student wrote again"
    again = cli("assignments", "close", "1", "--result", "pass")
    assert again.exit_code == 1 and "was closed already, with the result 'competent'" in again.stderr


def test_reassigning_a_non_students_ticket_sends_the_admin_the_reassigned_notice(cli, store, school):
    deliver(school, mail(frm="jo@elsewhere.example", to="homework@example.com", subject="My essay"))
    assert process(cli) == {"invalid_ticket": 1}
    assert cli("tickets", "reassign", "1", "--type", "Homework").exit_code == 0
    (notice,) = queued(store)
    assert (notice["purpose"], notice["to_email"]) == ("reassigned", OFFICE)
    assert store.one("SELECT count(*) AS n FROM assignments")["n"] == 0


def test_a_course_holds_its_types_to_their_tasks(cli, store, school):
    changed = cli("type", "edit", "Homework", "--task", "simple_storage")
    assert changed.exit_code == 1
    assert "Course WEB101 uses ticket type 'Homework' for its assignments, so its task must stay assignment" in (
        changed.stderr
    )
    removed = cli("type", "remove", "Homework")
    assert removed.exit_code == 1 and "course(s) 'Web Design'" in removed.stderr
    wrong = cli("courses", "add", "WEB102", "--name", "Web Accessibility", "--assignments", "Support")
    assert wrong.exit_code == 1
    assert "Ticket type 'Support' has the task simple_storage; a course's assignments need a type with the task " in (
        wrong.stderr
    )


def test_the_course_is_the_only_one_or_the_one_the_subject_names_as_a_word():
    from ticketctl.engine.flows.assignment import choose
    from ticketctl.engine.store.courses import Enrolment

    def enrolment(code: str) -> Enrolment:
        return Enrolment(1, 1, code, code, 1, STUDENT, "", 2, TUTOR, "")

    web101, web1010 = enrolment("WEB101"), enrolment("WEB1010")
    assert choose([web101], "anything at all") == (web101, [])
    assert choose([web101, web1010], "Re: my web101 essay") == (web101, [web101])
    assert choose([web101, web1010], "WEB1010/final") == (web1010, [web1010])
    assert choose([web101, web1010], "WEB101 and WEB1010") == (None, [web101, web1010])
    assert choose([web101, web1010], "WEB1011 essay") == (None, [])
    assert choose([], "WEB101") == (None, [])
