"""`ticketctl courses`: courses, the ticket types they use, and who is enrolled with which tutor."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ticketctl.commands.common import JsonOption, console, lazy, print_json, print_table, safe, say, state, who

if TYPE_CHECKING:
    from ticketctl.engine.admin.courses import CourseView
    from ticketctl.engine.store.courses import Course

courses = lazy("ticketctl.engine.admin.courses")

app = typer.Typer(
    help="Manage courses: the ticket types their questions and assignments go to, students and tutors.",
    no_args_is_help=True,
)

Code = typer.Argument(..., metavar="CODE", help="The course's code (students put it in their subjects).")
Questions = typer.Option(None, "--questions", metavar="TYPE", help="The simple_storage ticket type for questions.")
Assignments = typer.Option(None, "--assignments", metavar="TYPE", help="The assignment ticket type for assignments.")


@app.command("add")
def add(
    ctx: typer.Context,
    code: str = Code,
    name: str = typer.Option(..., "--name", help="The course's name."),
    questions: str = Questions,
    assignments: str = Assignments,
    json: bool = JsonOption,
) -> None:
    """Add a course and the ticket types its questions and assignments go to."""
    course = courses.add(state(ctx).store, code, name, questions, assignments)
    if json:
        print_json(course)
    else:
        say(f"Added course {course.code} ({course.name}){_types(course)}.")


@app.command("edit")
def edit(
    ctx: typer.Context,
    code: str = Code,
    new_code: str = typer.Option(None, "--code", help="Change the course's code."),
    name: str = typer.Option(None, "--name", help="Change the course's name."),
    questions: str = typer.Option(None, "--questions", metavar="TYPE", help="The questions' type ('' for none)."),
    assignments: str = typer.Option(None, "--assignments", metavar="TYPE", help="The assignments' type ('' for none)."),
    json: bool = JsonOption,
) -> None:
    """Change a course; options left out keep their value."""
    course = courses.edit(
        state(ctx).store, code, new_code=new_code, name=name, question_type=questions, assignment_type=assignments
    )
    if json:
        print_json(course)
    else:
        say(f"Updated course {course.code} ({course.name}){_types(course)}.")


def _types(course: Course) -> str:
    parts = [f"{what} to '{name}'" for what, name in (("questions", course.question_type),
             ("assignments", course.assignment_type)) if name]  # fmt: skip
    return f": {' and '.join(parts)}" if parts else ""


@app.command("enrol")
def enrol(
    ctx: typer.Context,
    code: str = Code,
    student: str = typer.Argument(..., metavar="STUDENT", help="The student's email address."),
    tutor: str = typer.Option(..., "--tutor", metavar="EMAIL", help="The tutor's email address."),
    student_name: str = typer.Option("", "--student-name", help="The student's name, for a new contact."),
    tutor_name: str = typer.Option("", "--tutor-name", help="The tutor's name, for a new contact."),
    json: bool = JsonOption,
) -> None:
    """Enrol a student in a course with their tutor (again: change the tutor). Unknown addresses become
    contacts; a plain contact becomes a student, or a tutor."""
    enrolment = courses.enrol(state(ctx).store, code, student, tutor, student_name, tutor_name)
    if json:
        print_json(enrolment)
    else:
        say(
            f"Enrolled {who(enrolment.student_name, enrolment.student_email)} in {enrolment.course_code}, "
            f"tutor {who(enrolment.tutor_name, enrolment.tutor_email)}."
        )


@app.command("list")
def list_(ctx: typer.Context, json: bool = JsonOption) -> None:
    """List the courses with their ticket types and how many students and assignments they have."""
    rows = courses.list_all(state(ctx).store)
    if json:
        print_json(rows)
        return
    print_table(
        "Courses",
        ["Code", "Name", "Questions", "Assignments", "Students", "Assignments in"],
        [
            (
                safe(r.course.code),
                safe(r.course.name),
                safe(r.course.question_type),
                safe(r.course.assignment_type),
                r.students,
                r.assignments,
            )
            for r in rows
        ],
    )
    if not rows:
        say("No courses yet; add one with `ticketctl courses add CODE --name NAME`.")


@app.command("show")
def show(ctx: typer.Context, code: str = Code, json: bool = JsonOption) -> None:
    """Show a course: its ticket types, its students with their tutors, its assignments."""
    view = courses.show(state(ctx).store, code)
    if json:
        print_json(view)
        return
    _render(view)


def _render(v: CourseView) -> None:
    c = v.course
    out = console()
    out.print(f"[bold]Course {safe(c.code)}[/] {safe(c.name)}")
    out.print(f"  [bold]Questions:[/] {safe(c.question_type) or 'none'}")
    out.print(f"  [bold]Assignments:[/] {safe(c.assignment_type) or 'none'}")
    print_table(
        "Students",
        ["Student", "Tutor"],
        [(safe(who(e.student_name, e.student_email)), safe(who(e.tutor_name, e.tutor_email))) for e in v.enrolments],
    )
    print_table(
        "Assignments",
        ["ID", "Ticket", "Status", "Attempts", "Student", "Result", "Updated"],
        [
            (a.id, a.ticket_id, a.status, a.submissions, safe(a.student), safe(a.result), a.updated_at)
            for a in v.assignments
        ],
    )
    if v.more_assignments:
        say(f"Only the newest {len(v.assignments)}; all of them: ticketctl assignments list --course {c.code}")


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE.csv", help="A CSV file of enrolments: course, student, tutor."),
    json: bool = JsonOption,
) -> None:
    """Enrol students from a CSV file whose first line names the columns: course (its code), student and
    tutor (email addresses), and optionally student_name and tutor_name. All or nothing: one bad row (an
    unknown course, a missing email) refuses the whole file, naming its line."""
    result = courses.import_csv(state(ctx).store, file)
    if json:
        print_json(result)
    else:
        say(f"Imported {file}: {result.added} enrolment(s) added, {result.updated} changed.")
