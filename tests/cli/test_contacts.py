"""`ticketctl contacts`: add, list, show (tickets, assignments, courses, bounces), edit, import FILE.csv."""

from __future__ import annotations

import json

import pytest

from tests.staff import builders as b


def contact_rows(store) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in store.query("SELECT email, name, role FROM contacts ORDER BY email")]


def test_add_normalises_the_address_and_refuses_a_second_one(cli, store):
    added = cli("contacts", "add", "  Jane.Doe@Example.COM ", "--name", "Jane Doe", "--role", "Lead")
    assert added.exit_code == 0, added.stderr
    assert "Added contact Jane Doe <jane.doe@example.com> (lead)." in added.stdout
    again = cli("contacts", "add", "JANE.DOE@example.com")
    assert again.exit_code == 1
    assert "There is a contact with the address jane.doe@example.com already" in again.stderr
    assert contact_rows(store) == [("jane.doe@example.com", "Jane Doe", "lead")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("not an address",), "'not an address' is not a valid email address for the contact"),
        (("a@example.com", "--role", "teacher"), "Role 'teacher' is not valid; use one of: contact, lead, student"),
    ],
)
def test_add_refuses_bad_input_in_one_sentence(cli, store, args, message):
    result = cli("contacts", "add", *args)
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert contact_rows(store) == []


def test_edit_changes_role_name_and_address(cli, store):
    cli("contacts", "add", "sam@example.com")
    result = cli(
        "contacts", "edit", "SAM@example.com", "--role", "student", "--name", "Sam", "--email", "Sam@New.example"
    )
    assert result.exit_code == 0, result.stderr
    assert contact_rows(store) == [("sam@new.example", "Sam", "student")]
    cli("contacts", "add", "other@example.com")
    taken = cli("contacts", "edit", "other@example.com", "--email", "sam@new.example")
    assert taken.exit_code == 1 and "belongs to another contact already" in taken.stderr
    missing = cli("contacts", "edit", "nobody@example.com", "--role", "lead")
    assert missing.exit_code == 1 and "There is no contact with the address 'nobody@example.com'" in missing.stderr


def test_list_filters_by_role_and_text_and_pages(cli, store):
    for n in range(3):
        cli("contacts", "add", f"student{n}@example.com", "--role", "student")
    cli("contacts", "add", "tess@example.com", "--name", "Tess Tutor", "--role", "tutor")
    students = json.loads(cli("contacts", "list", "--role", "student", "--json").stdout)
    assert [c["email"] for c in students] == ["student0@example.com", "student1@example.com", "student2@example.com"]
    assert [c["email"] for c in json.loads(cli("contacts", "list", "--search", "tutor", "--json").stdout)] == [
        "tess@example.com"
    ]
    page = cli("contacts", "list", "--limit", "2")
    assert "student0@example.com" in page.stdout and "student2@example.com" not in page.stdout
    assert "Contacts 1-2; more with --offset 2." in page.stdout


def test_show_lists_the_contacts_tabs(cli, store):
    alice = b.contact(store, "alice@example.com", "Alice", "student")
    tutor = b.contact(store, "tom@example.org", "Tom", "tutor")
    box = b.mailbox(store)
    homework = b.ticket_type(store, "Homework", "Hw", box, task="assignment")
    ticket = b.ticket(store, "My essay", "alice@example.com", type_id=homework, mailbox_id=box, contact_id=alice)
    b.bounce(store, "alice@example.com", ticket_id=ticket, contact_id=alice)
    b.bounce(store, "alice@example.com", resolved=1)  # before she was a contact, and resolved since
    cli("courses", "add", "WEB101", "--name", "Web Design", "--assignments", "Homework")
    cli("courses", "enrol", "WEB101", "alice@example.com", "--tutor", "tom@example.org")
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO assignments (ticket_id, course_id, student_id, tutor_id, status, created_at, updated_at)"
            " VALUES (?, 1, ?, ?, 'submitted', ?, ?)",
            (ticket, alice, tutor, b.T0, b.T0),
        )

    shown = cli("contacts", "show", "Alice@Example.com")
    assert shown.exit_code == 0, shown.stderr
    out = shown.stdout
    assert "Contact Alice <alice@example.com> (student" in out
    assert "My essay" in out and "WEB101" in out and "Web Design" in out and "tom@example.org" in out
    assert out.count("unresolved") == 1 and "resolved " not in out.replace("unresolved", "")
    data = json.loads(cli("contacts", "show", "alice@example.com", "--all-bounces", "--json").stdout)
    assert [t["id"] for t in data["tickets"]] == [ticket]
    assert [(a["course"], a["status"], a["tutor"]) for a in data["assignments"]] == [
        ("WEB101", "submitted", "tom@example.org")
    ]
    assert [bo["resolved"] for bo in data["bounces"]] == [False, True]
    assert [(e["course_code"], e["tutor_email"]) for e in data["enrolments"]] == [("WEB101", "tom@example.org")]
    tutor_view = json.loads(cli("contacts", "show", "tom@example.org", "--json").stdout)
    assert [a["student"] for a in tutor_view["assignments"]] == ["alice@example.com"], "a tutor's tab: what they mark"


def test_import_adds_and_updates_and_keeps_what_an_empty_cell_leaves(cli, store, workdir):
    cli("contacts", "add", "kept@example.com", "--name", "Kept Name", "--role", "lead")
    csv = workdir / "contacts.csv"
    csv.write_text(
        "\ufeffEmail,Name,Role\n"  # Excel's BOM, a capitalised header
        ' New@Example.com ,"Newman, Nora",student\n'
        "kept@example.com,,tutor\n"
        "\n"
        "plain@example.com,,\n",
        encoding="utf-8",
    )
    result = cli("contacts", "import", str(csv))
    assert result.exit_code == 0, result.stderr
    assert "2 contact(s) added, 1 updated" in result.stdout
    assert contact_rows(store) == [
        ("kept@example.com", "Kept Name", "tutor"),
        ("new@example.com", "Newman, Nora", "student"),
        ("plain@example.com", "", "contact"),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("email,name,role\na@example.com,A,student\n,Nobody,lead\n", "line 3: the email is missing"),
        ("email,name,role\na@example.com,A,teacher\n", "line 2: Role 'teacher' is not valid; use one of: contact"),
        ("email,role\na@example.com,lead\nbroken@,lead\n", "line 3: 'broken@' is not a valid email address"),
        ("email,name\na@example.com,A\nA@example.com,B\n", "line 3: a@example.com is on line 2 already"),
        ('email,name\n"a@example.com","A\nsecond line"\nb@example.com,B,extra\n', "line 4: it has 3 cells"),
        ("name,role\nA,lead\n", "has no column email; its first line must name the columns: email, and optionally"),
        ("email,nmae\na@example.com,A\n", "has the column(s) nmae"),
    ],
)
def test_import_refuses_a_file_with_a_bad_row_and_imports_nothing_of_it(cli, store, workdir, content, message):
    csv = workdir / "contacts.csv"
    csv.write_text(content)
    result = cli("contacts", "import", str(csv))
    assert result.exit_code == 1
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert contact_rows(store) == []


def test_import_names_every_bad_line_at_once(cli, store, workdir):
    csv = workdir / "contacts.csv"
    csv.write_text("email,role\n,lead\nok@example.com,lead\nx@example.com,boss\n")
    result = cli("contacts", "import", str(csv))
    assert "has 2 bad rows, so nothing of it was imported: line 2: the email is missing; line 4: Role 'boss'" in (
        result.stderr
    )
    assert contact_rows(store) == []


def test_import_of_a_missing_or_binary_file_is_a_sentence(cli, workdir):
    missing = cli("contacts", "import", str(workdir / "nope.csv"))
    assert missing.exit_code == 1 and "Cannot read" in missing.stderr and "nope.csv" in missing.stderr
    (workdir / "latin1.csv").write_bytes(b"email,name\nz@example.com,Z\xfcrich\n")
    binary = cli("contacts", "import", str(workdir / "latin1.csv"))
    assert binary.exit_code == 1 and "is not UTF-8 text" in binary.stderr
