"""Every ticket-type task has a flow, and the assignment task, not built yet, says so plainly."""

from __future__ import annotations

import json

from tests.pipeline.helpers import deliver, mail, setup_support
from ticketctl.engine.enums import Task
from ticketctl.engine.flows import flow, tasks
from ticketctl.engine.store import types


def test_every_task_has_a_flow_with_the_whole_interface():
    assert set(tasks.FLOWS) == set(Task)
    for task, module in tasks.FLOWS.items():
        for event in ("new_ticket", "reply", "reassigned"):
            assert callable(getattr(module, event)), f"the {task} flow has no {event}"
            assert event in flow.Flow.__dict__


def test_type_add_refuses_the_assignment_task(cli, store, workdir):
    setup_support(store, workdir / "mail")
    result = cli(
        "type", "add", "Homework", "--task", "assignment", "--email-to", "homework@example.com", "--tag", "Hw",
        "--mailbox", "local", "--admin-email", "lead@example.com",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no flow in this version" in result.stderr and "Traceback" not in result.stderr


def test_mail_for_an_assignment_type_made_earlier_is_an_error_ticket_that_says_why(cli, store, workdir):
    setup_support(store, workdir / "mail")
    with store.transaction():  # as a database from before the refusal holds it
        types.insert(
            store,
            {"name": "Homework", "task": "assignment", "email_to": json.dumps(["homework@example.com"]),
             "workflow_tag": "Hw", "mailbox_id": 1, "admin_email": "lead@example.com", "active": 1},
        )  # fmt: skip
    deliver(workdir / "mail", mail(to="homework@example.com", subject="My essay"))
    result = cli("process", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["mailboxes"][0]["counts"] == {"error_ticket": 1}
    shown = cli("tickets", "show", "1")
    assert "whose flow is not built in this version" in shown.stdout
    assert store.one("SELECT count(*) AS n FROM email_queue")["n"] == 0
