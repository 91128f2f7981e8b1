"""`ticketctl type`: add, list, show, edit, remove and their refusals."""

import json

import pytest


@pytest.fixture
def mailbox(cli):
    assert cli("mailbox", "add", "support", "--kind", "maildir", "--path", "mail").exit_code == 0
    return "support"


def add_type(cli, name="Support", *extra):
    return cli(
        "type",
        "add",
        name,
        "--email-to",
        "Support@Example.com",
        "--email-to",
        "help@example.com",
        "--tag",
        name,
        "--mailbox",
        "support",
        "--admin-email",
        "lead@example.com",
        *extra,
    )


def test_add_show_list(cli, mailbox, store):
    result = add_type(cli, "Support", "--email-forward", "archive@example.com", "--description", "Questions")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(cli("type", "show", "Support", "--json").stdout)
    assert shown["email_to"] == ["help@example.com", "support@example.com"]
    assert (shown["task"], shown["workflow_tag"], shown["mailbox"]) == (
        "simple_storage",
        "Support",
        "support",
    )
    assert shown["email_forward"] == "archive@example.com"
    listed = json.loads(cli("type", "list", "--json").stdout)
    assert [t["name"] for t in listed] == ["Support"]
    table = cli("type", "list").stdout
    assert "Support" in table and "simple_storage" in table


def test_save_table_is_validated(cli, mailbox, store):
    bad = add_type(cli, "Sales", "--save-table", "leads; DROP TABLE tickets", "--save-from", "email")
    assert bad.exit_code == 1
    assert "is not a valid save table" in bad.stderr
    ok = add_type(cli, "Sales", "--save-table", "leads", "--save-from", "email", "--save-body", "message")
    assert ok.exit_code == 0, ok.stderr
    row = store.one("SELECT save_table, save_from_column, save_body_column FROM ticket_types WHERE name='Sales'")
    assert tuple(row) == ("leads", "email", "message")


def test_refusals(cli, mailbox):
    add_type(cli)
    dup_tag = cli(
        "type",
        "add",
        "Other",
        "--email-to",
        "o@example.com",
        "--tag",
        "support",
        "--mailbox",
        "support",
        "--admin-email",
        "lead@example.com",
    )
    assert dup_tag.exit_code == 1
    assert "Workflow tag 'support' is already used by type 'Support'" in dup_tag.stderr
    bad_address = cli(
        "type",
        "add",
        "X",
        "--email-to",
        "not-an-address",
        "--tag",
        "X",
        "--mailbox",
        "support",
        "--admin-email",
        "lead@example.com",
    )
    assert bad_address.exit_code == 1
    assert "'not-an-address' is not a valid email address" in bad_address.stderr
    bad_tag = cli(
        "type",
        "add",
        "Y",
        "--email-to",
        "y@example.com",
        "--tag",
        "two words",
        "--mailbox",
        "support",
        "--admin-email",
        "lead@example.com",
    )
    assert bad_tag.exit_code == 1
    assert "Workflow tag 'two words' is not valid" in bad_tag.stderr
    no_box = cli(
        "type",
        "add",
        "Z",
        "--email-to",
        "z@example.com",
        "--tag",
        "Z",
        "--mailbox",
        "nope",
        "--admin-email",
        "lead@example.com",
    )
    assert no_box.exit_code == 1
    assert "Ticket type 'Z' names the mailbox 'nope', which does not exist" in no_box.stderr
    bad_task = add_type(cli, "W", "--task", "juggling")
    assert bad_task.exit_code == 2  # a usage error, found before anything else is done
    assert "Invalid value for '--task'" in bad_task.stderr and "'juggling' is not one of" in bad_task.stderr


def test_edit_and_deactivate(cli, mailbox, store):
    add_type(cli)
    result = cli("type", "edit", "Support", "--inactive", "--admin-email", "boss@example.com")
    assert result.exit_code == 0, result.stderr
    row = store.one("SELECT active, admin_email FROM ticket_types WHERE name = 'Support'")
    assert tuple(row) == (0, "boss@example.com")


def test_remove_refused_when_tickets_use_it(cli, mailbox, store):
    add_type(cli)
    add_type(cli, "Spare", "--inactive")  # inactive: an active type may not share Support's addresses
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO tickets (type_id, subject, created_at, updated_at) "
            "SELECT id, 'x', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z' FROM ticket_types "
            "WHERE name = 'Support'"
        )
    refused = cli("type", "remove", "Support")
    assert refused.exit_code == 1
    assert "Ticket type 'Support' is used by 1 ticket(s)" in refused.stderr
    assert cli("type", "remove", "Spare", "--yes").exit_code == 0
    assert store.one("SELECT 1 FROM ticket_types WHERE name = 'Spare'") is None


def test_cc_participation_is_on_unless_turned_off(cli, mailbox, store):
    assert add_type(cli, "Support").exit_code == 0
    assert json.loads(cli("type", "show", "Support", "--json").stdout)["cc_participants"] is True
    assert cli("type", "edit", "Support", "--no-cc-participants").exit_code == 0
    assert json.loads(cli("type", "show", "Support", "--json").stdout)["cc_participants"] is False
    assert cli("type", "edit", "Support", "--description", "other change").exit_code == 0
    assert json.loads(cli("type", "show", "Support", "--json").stdout)["cc_participants"] is False
    private = cli("type", "add", "Private", "--email-to", "private@example.com", "--tag", "Private", "--mailbox",
                  "support", "--admin-email", "lead@example.com", "--no-cc-participants")  # fmt: skip
    assert private.exit_code == 0, private.stderr
    assert json.loads(cli("type", "show", "Private", "--json").stdout)["cc_participants"] is False
    assert "--no-cc-participants" in cli("type", "add", "--help").stdout
