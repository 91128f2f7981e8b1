"""The two decisions of the assignment workflow: who may write into an assignment ticket
(`assignment-writer`) and who may open one (`not-a-student`)."""

from __future__ import annotations

from tests.rules.conftest import HOMEWORK, parsed
from ticketctl.engine.intake.rules import assignment_writer, not_a_student
from ticketctl.engine.store.assignments import Parties

STUDENT, TUTOR, ADMIN = "sam@students.example", "tess@tutors.example", "office@example.com"


def homework_ticket(view, *, assignment: bool = True) -> None:
    """Ticket 5 of type Homework, opened by the student (log 50); with its assignment 7 unless not."""
    view.add_ticket(5, log_id=50, customer=STUDENT, type_id=HOMEWORK.id)
    view.people[5] |= {TUTOR}
    if assignment:
        view.assignments[5] = Parties(7, STUDENT, TUTOR)


def test_the_student_and_the_tutor_pass_to_the_subject_tag_rule(view):
    homework_ticket(view)
    for sender in (f"Sam <{STUDENT}>", TUTOR.upper(), "tess+marking@tutors.example"):
        assert assignment_writer.check(parsed(frm=sender, subject="Re: [Hw #5-50] Essay"), view) is None


def test_the_admin_who_got_a_copy_is_refused_with_the_reason(view):
    homework_ticket(view)
    decision = assignment_writer.check(parsed(frm=ADMIN, subject="Re: [Hw #5-50] Essay"), view)
    assert (decision.disposition, decision.rule, decision.ticket_id) == ("rejected", "assignment-writer", 5)
    assert decision.reason == (
        f"the admin {ADMIN} of type 'Homework' is neither the student {STUDENT} nor the tutor {TUTOR} of "
        "assignment 7 (ticket #5); only they write into it"
    )


def test_a_stranger_naming_the_ticket_by_its_references_is_refused(view):
    homework_ticket(view)
    view.message_ids["sent-to-tess@example.com"] = 5
    decision = assignment_writer.check(
        parsed(frm="eve@evil.example", subject="Essay", In_Reply_To="<sent-to-tess@example.com>"), view
    )
    assert decision.disposition == "rejected"
    assert decision.reason.startswith("the sender eve@evil.example is neither the student")


def test_before_the_assignment_exists_only_its_student_writes(view):
    homework_ticket(view, assignment=False)
    assert assignment_writer.check(parsed(frm=STUDENT, subject="Re: [Hw #5-50] Essay WEB101"), view) is None
    refused = assignment_writer.check(parsed(frm=TUTOR, subject="Re: [Hw #5-50] Essay"), view)
    assert refused.disposition == "rejected"
    assert "holds no assignment yet; only its student sam@students.example writes into it" in refused.reason


def test_other_tickets_and_untagged_mail_are_not_its_business(view):
    view.add_ticket(1, log_id=1, customer="jane@customer.example")
    assert assignment_writer.check(parsed(frm="eve@evil.example", subject="Re: [Support #1-1] x"), view) is None
    assert assignment_writer.check(parsed(frm="eve@evil.example", subject="My essay"), view) is None


def test_a_new_mail_to_an_assignment_type_from_a_non_student_is_an_invalid_ticket(view):
    view.enrolled[HOMEWORK.id, STUDENT] = ["WEB101"]
    assert not_a_student.check(parsed(frm=f"Sam <{STUDENT.upper()}>", to="homework@example.com"), view) is None
    decision = not_a_student.check(parsed(frm="jo@elsewhere.example", to="homework@example.com"), view)
    assert (decision.disposition, decision.rule) == ("invalid_ticket", "not-a-student")
    assert "jo@elsewhere.example mailed assignment type 'Homework' but is not a student" in decision.reason
    assert not_a_student.check(parsed(frm="jo@elsewhere.example"), view) is None  # a question type's mail
