"""`ticketctl courses` (add, edit, enrol, list, show, import FILE.csv) and `ticketctl assignments` (list with
its filters, show, close, submit) through the CLI runner, on data built in the store."""

from __future__ import annotations

import json

import pytest

from tests.staff import builders as b


@pytest.fixture
def types_(store):
    box = b.mailbox(store)
    b.ticket_type(store, "Questions", "Q", box)
    b.ticket_type(store, "Homework", "Hw", box, task="assignment", email_to=("homework@example.org",))
    return box


def enrolments(store) -> list[tuple[str, str, str]]:
    return [
        tuple(r)
        for r in store.query(
            "SELECT c.code, s.email, t.email FROM enrolments e JOIN courses c ON c.id = e.course_id"
            " JOIN contacts s ON s.id = e.student_id JOIN contacts t ON t.id = e.tutor_id ORDER BY c.code, s.email"
        )
    ]


def test_add_edit_list_show(cli, store, types_):
    added = cli(
        "courses", "add", "WEB101", "--name", "Web Design", "--questions", "Questions", "--assignments", "Homework"
    )
    assert added.exit_code == 0, added.stderr
    assert "Added course WEB101 (Web Design): questions to 'Questions' and assignments to 'Homework'." in added.stdout
    assert cli("courses", "enrol", "web101", "Sam@Students.example", "--tutor", "tess@tutors.example").exit_code == 0
    listed = json.loads(cli("courses", "list", "--json").stdout)
    assert [(r["course"]["code"], r["course"]["assignment_type"], r["students"]) for r in listed] == [
        ("WEB101", "Homework", 1)
    ]
    edited = cli("courses", "edit", "WEB101", "--code", "WEB-101", "--name", "Web Design I", "--questions", "")
    assert edited.exit_code == 0, edited.stderr
    shown = cli("courses", "show", "web-101")
    assert "Course WEB-101 Web Design I" in shown.stdout and "Questions: none" in shown.stdout
    assert "Assignments: Homework" in shown.stdout and "sam@students.example" in shown.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("WEB 101", "--name", "x"), "'WEB 101' is not a usable course code"),
        (
            ("WEB101", "--name", "x", "--assignments", "Questions"),
            "Ticket type 'Questions' has the task simple_storage",
        ),
        (("WEB101", "--name", "x", "--questions", "Nope"), "There is no ticket type named 'Nope'"),
    ],
)
def test_add_refuses_bad_input(cli, store, types_, args, message):
    result = cli("courses", "add", *args)
    assert result.exit_code == 1 and message in result.stderr, result.stderr
    assert store.one("SELECT count(*) AS n FROM courses")["n"] == 0


def test_codes_and_names_are_unique(cli, types_):
    cli("courses", "add", "WEB101", "--name", "Web Design")
    same_code = cli("courses", "add", "web101", "--name", "Other")
    assert same_code.exit_code == 1 and "Course WEB101 has the code web101 already" in same_code.stderr
    same_name = cli("courses", "add", "WEB102", "--name", "Web Design")
    assert same_name.exit_code == 1 and "Course WEB101 has the name 'Web Design' already" in same_name.stderr


def test_enrol_makes_contacts_students_and_tutors_and_enrolling_again_changes_the_tutor(cli, store, types_):
    cli("courses", "add", "WEB101", "--name", "Web Design", "--assignments", "Homework")
    b.contact(store, "boss@example.org", "Boss", "admin")
    assert cli("courses", "enrol", "WEB101", "sam@example.org", "--tutor", "tess@example.org").exit_code == 0
    again = cli("courses", "enrol", "WEB101", "sam@example.org", "--tutor", "boss@example.org", "--json")
    assert json.loads(again.stdout)["tutor_email"] == "boss@example.org"
    assert enrolments(store) == [("WEB101", "sam@example.org", "boss@example.org")]
    roles = dict(store.query("SELECT email, role FROM contacts").__iter__())
    assert roles == {"sam@example.org": "student", "tess@example.org": "tutor", "boss@example.org": "admin"}
    own = cli("courses", "enrol", "WEB101", "sam@example.org", "--tutor", "SAM@example.org")
    assert own.exit_code == 1 and "sam@example.org cannot be their own tutor" in own.stderr
    unknown = cli("courses", "enrol", "NOPE", "sam@example.org", "--tutor", "tess@example.org")
    assert unknown.exit_code == 1 and "There is no course with the code 'NOPE'" in unknown.stderr


def test_import_enrols_everyone_of_a_good_file(cli, store, types_, workdir):
    cli("courses", "add", "WEB101", "--name", "Web Design")
    cli("courses", "add", "WEB102", "--name", "Web Accessibility")
    cli("courses", "enrol", "WEB101", "sam@example.org", "--tutor", "tess@example.org")
    csv = workdir / "enrolments.csv"
    csv.write_text(
        "course,student,tutor,student_name,tutor_name\n"
        "web101,sam@example.org,tom@example.org,,Tom Tutor\n"
        "WEB102,Kim@Example.org,tess@example.org,Kim,\n"
    )
    result = cli("courses", "import", str(csv))
    assert result.exit_code == 0, result.stderr
    assert "1 enrolment(s) added, 1 changed" in result.stdout
    assert enrolments(store) == [
        ("WEB101", "sam@example.org", "tom@example.org"),
        ("WEB102", "kim@example.org", "tess@example.org"),
    ]
    assert store.one("SELECT name FROM contacts WHERE email = 'tom@example.org'")["name"] == "Tom Tutor"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("WEB999,kim@example.org,tess@example.org", "line 3: there is no course with the code 'WEB999'"),
        ("WEB101,,tess@example.org", "line 3: the student's email is missing"),
        ("WEB101,kim@example.org,", "line 3: the tutor's email is missing"),
        (",kim@example.org,tess@example.org", "line 3: the course is missing"),
        ("WEB101,kim@,tess@example.org", "line 3: 'kim@' is not a valid email address for the student"),
        ("WEB101,sam@example.org,tess@example.org", "line 3: sam@example.org is enrolled in WEB101 on line 2 already"),
    ],
)
def test_import_refuses_a_file_with_a_bad_row_and_enrols_no_one(cli, store, types_, workdir, row, message):
    cli("courses", "add", "WEB101", "--name", "Web Design")
    csv = workdir / "enrolments.csv"
    csv.write_text(f"course,student,tutor\nWEB101,sam@example.org,tess@example.org\n{row}\n")
    result = cli("courses", "import", str(csv))
    assert result.exit_code == 1
    assert message in result.stderr and "nothing of it was imported" in result.stderr, result.stderr
    assert enrolments(store) == []
    assert store.one("SELECT count(*) AS n FROM contacts")["n"] == 0


@pytest.fixture
def marked(store, types_):
    """Three assignments: Sam's in WEB101 marked by Tess (feedback returned), Kim's in WEB101 by Tess
    (submitted), Sam's in WEB102 by Tom (submitted); each on its own ticket with its first mail."""
    people = {
        e: b.contact(store, e, e.split("@")[0].title()) for e in ("sam@x.org", "kim@x.org", "tess@x.org", "tom@x.org")
    }
    homework = store.one("SELECT id FROM ticket_types WHERE name = 'Homework'")["id"]
    with store.transaction() as conn:
        for code in ("WEB101", "WEB102"):
            conn.execute(
                "INSERT INTO courses (code, name, assignment_type_id) VALUES (?, ?, ?)", (code, code, homework)
            )
    rows = [("sam@x.org", 1, "tess@x.org", "feedback_returned"), ("kim@x.org", 1, "tess@x.org", "submitted"),
            ("sam@x.org", 2, "tom@x.org", "submitted")]  # fmt: skip
    for n, (student, course, tutor, status) in enumerate(rows, 1):
        ticket = b.ticket(store, f"Essay {n}", student, type_id=homework, mailbox_id=types_, contact_id=people[student])
        log = b.log(store, ticket, subject=f"Essay {n}", body=f"Essay number {n}.")
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO assignments (ticket_id, course_id, student_id, tutor_id, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ticket, course, people[student], people[tutor], status, b.T0, f"2026-01-0{n}T00:00:00Z"),
            )
            conn.execute(
                "INSERT INTO assignment_steps (assignment_id, kind, attempt, log_id, author_id, created_at)"
                " VALUES (?, 'submitted', 1, ?, ?, ?)",
                (n, log, people[student], b.T0),
            )
    return people


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ((), [3, 2, 1]),
        (("--status", "submitted"), [3, 2]),
        (("--status", "submitted", "--status", "feedback_returned"), [3, 2, 1]),
        (("--course", "web101"), [2, 1]),
        (("--tutor", "tess@x.org"), [2, 1]),
        (("--student", "SAM@x.org"), [3, 1]),
        (("--student", "sam@x.org", "--tutor", "tom@x.org"), [3]),
    ],
)
def test_assignments_list_filters(cli, marked, filters, expected):
    result = cli("assignments", "list", "--json", *filters)
    assert result.exit_code == 0, result.stderr
    assert [a["id"] for a in json.loads(result.stdout)["assignments"]] == expected


def test_assignments_list_refuses_unknown_filters_and_pages(cli, marked):
    bad = cli("assignments", "list", "--status", "graded")
    assert bad.exit_code == 1 and "Status 'graded' is not an assignment status" in bad.stderr
    nobody = cli("assignments", "list", "--tutor", "nobody@x.org")
    assert nobody.exit_code == 1 and "There is no contact with the address 'nobody@x.org'" in nobody.stderr
    page = cli("assignments", "list", "--limit", "2")
    assert "Assignments 1-2; more with --offset 2." in page.stdout


def test_assignments_show_and_close(cli, store, marked):
    shown = cli("assignments", "show", "1")
    assert shown.exit_code == 0, shown.stderr
    assert "Assignment 1 on ticket 1: Essay 1" in shown.stdout
    assert "Attempt 1 (submitted) by Sam <sam@x.org>" in shown.stdout and "Essay number 1." in shown.stdout
    closed = cli("assignments", "close", "1", "--result", "competent", "--json")
    assert json.loads(closed.stdout)["assignment"]["status"] == "completed"
    assert store.one("SELECT status FROM tickets WHERE id = 1")["status"] == "resolved"
    missing = cli("assignments", "show", "9")
    assert missing.exit_code == 1 and "There is no assignment 9" in missing.stderr


def test_assignments_submit_refuses_what_it_cannot_file(cli, store, marked):
    held = cli("assignments", "submit", "1", "--course", "WEB101")
    assert held.exit_code == 1 and "Ticket 1 holds assignment 1 already" in held.stderr
    questions = store.one("SELECT id FROM ticket_types WHERE name = 'Questions'")["id"]
    question = b.ticket(store, "A question", "sam@x.org", type_id=questions)
    not_homework = cli("assignments", "submit", str(question), "--course", "WEB101")
    assert not_homework.exit_code == 1 and "is not of an assignment type" in not_homework.stderr
    homework = store.one("SELECT id FROM ticket_types WHERE name = 'Homework'")["id"]
    stranger = b.ticket(store, "Essay", "jo@x.org", type_id=homework)
    b.log(store, stranger)
    not_enrolled = cli("assignments", "submit", str(stranger), "--course", "WEB101")
    assert not_enrolled.exit_code == 1
    assert "jo@x.org is not enrolled in WEB101; enrol them with `ticketctl courses enrol WEB101" in not_enrolled.stderr


@pytest.mark.parametrize("group", ["contacts", "courses", "assignments"])
def test_every_command_explains_itself_and_takes_json(cli, group):
    import typer.main

    from ticketctl.cli import app

    commands = typer.main.get_command(app).commands[group].commands  # type: ignore[attr-defined]
    assert commands
    for name, command in commands.items():
        assert (command.help or "").strip(), f"`{group} {name}` has no help"
        for param in command.params:
            assert getattr(param, "help", None), f"`{group} {name}` {param.name} has no help"
        assert "--json" in {opt for p in command.params for opt in p.opts}, f"`{group} {name}` takes no --json"
        shown = cli(group, name, "--help")
        assert shown.exit_code == 0 and "Usage:" in shown.stdout
