"""`ticketctl assignments`: list, show and close assignments; file one whose course could not be told."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ticketctl.commands.common import JsonOption, console, lazy, print_json, print_table, safe, say, state, who
from ticketctl.engine.enums import AssignmentStatus

if TYPE_CHECKING:
    from ticketctl.engine.desk.assignments import AssignmentView

assignments = lazy("ticketctl.engine.desk.assignments")

app = typer.Typer(help="Follow assignments: every attempt, the tutor's feedback, the result.", no_args_is_help=True)

AssignmentId = typer.Argument(..., metavar="ID", min=1, help="The assignment's number (`ticketctl assignments list`).")
STATUSES = ", ".join(str(s) for s in AssignmentStatus)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: list[str] = typer.Option(
        None, "--status", metavar="STATUS", help=f"Only this status (repeat for several): {STATUSES}."
    ),
    course: str = typer.Option(None, "--course", metavar="CODE", help="Only assignments of this course."),
    tutor: str = typer.Option(None, "--tutor", metavar="EMAIL", help="Only assignments this tutor marks."),
    student: str = typer.Option(None, "--student", metavar="EMAIL", help="Only this student's assignments."),
    limit: int = typer.Option(50, "--limit", metavar="N", min=1, help="Assignments per page."),
    offset: int = typer.Option(0, "--offset", metavar="N", min=0, help="Skip this many assignments."),
    json: bool = JsonOption,
) -> None:
    """List assignments, latest activity first."""
    filters = assignments.AssignmentFilters(tuple(status or ()), course, tutor, student)
    page = assignments.list_assignments(state(ctx).store, filters, limit, offset)
    if json:
        print_json(page)
        return
    print_table(
        "Assignments",
        ["ID", "Ticket", "Course", "Status", "Attempts", "Student", "Tutor", "Updated"],
        [
            (a.id, a.ticket_id, safe(a.course), a.status, a.submissions, safe(a.student), safe(a.tutor), a.updated_at)
            for a in page.assignments
        ],
    )
    if not page.assignments:
        say("No assignments match." if offset == 0 else "No assignments on this page.")
    elif page.has_more:
        last = offset + len(page.assignments)
        say(f"Assignments {offset + 1}-{last}; more with --offset {last}.")


@app.command("show")
def show(ctx: typer.Context, assignment_id: int = AssignmentId, json: bool = JsonOption) -> None:
    """Show an assignment: its course, student and tutor, and every attempt and feedback with its files."""
    view = assignments.get_assignment(state(ctx).store, assignment_id)
    if json:
        print_json(view)
        return
    _render(view)


def _render(v: AssignmentView) -> None:
    a, out = v.assignment, console()
    out.print(f"[bold]Assignment {a.id}[/] on ticket {a.ticket_id}: {safe(v.ticket_subject, oneline=True)}")
    fields = [
        ("Course", safe(f"{a.course} ({a.course_name})" if a.course else "none")),
        ("Student", safe(who(a.student_name, a.student), oneline=True)),
        ("Tutor", safe(who(a.tutor_name, a.tutor), oneline=True) or "none"),
        ("Status", f"{a.status}, {a.submissions} attempt(s)"),
    ]
    if a.result is not None:
        fields.append(("Result", f"{safe(a.result, oneline=True)} (closed {a.closed_at})"))
    for key, value in fields:
        out.print(f"  [bold]{key}:[/] {value}", soft_wrap=True)
    for step in v.steps:
        what = "Feedback on attempt" if step.kind == "feedback" else "Attempt"
        by = safe(who(step.author_name, step.author), oneline=True)
        out.print(f"\n[bold]{what} {step.attempt}[/] ({step.kind}) by {by}, {step.created_at}, log {step.log_id}")
        out.print(f"  Subject: {safe(step.subject, oneline=True)}", soft_wrap=True)
        for f in step.attachments:
            out.print(f"  Attachment: {safe(f.filename, oneline=True)} ({f.size} bytes, {safe(f.content_type)})")
        out.print("")
        out.print(safe(step.text.rstrip()), soft_wrap=True)
    if any(step.attachments for step in v.steps):
        say(f"\nSave a file with: ticketctl tickets attachment {a.ticket_id} NAME --out DIR")


@app.command("close")
def close(
    ctx: typer.Context,
    assignment_id: int = AssignmentId,
    result: str = typer.Option(..., "--result", help="The outcome, e.g. competent, pass, 72%."),
    json: bool = JsonOption,
) -> None:
    """Close an assignment with its result: it takes no more attempts, and its ticket is resolved."""
    view = assignments.close(state(ctx).store, assignment_id, result)
    if json:
        print_json(view)
    else:
        say(f"Assignment {view.assignment.id} is closed: {view.assignment.result}.")


@app.command("submit")
def submit(
    ctx: typer.Context,
    ticket_id: int = typer.Argument(..., metavar="TICKET", min=1, help="The assignment ticket's number."),
    course: str = typer.Option(..., "--course", metavar="CODE", help="The course the assignment is for."),
    json: bool = JsonOption,
) -> None:
    """File the first mail of a ticket whose course could not be told under a course of its student's:
    it becomes attempt 1 and goes to the student's tutor."""
    st = state(ctx)
    view = assignments.submit(st.store, st.config, ticket_id, course)
    if json:
        print_json(view)
    else:
        a = view.assignment
        say(f"Ticket {a.ticket_id} is assignment {a.id} of {a.course}; attempt 1 is queued for {a.tutor}.")
