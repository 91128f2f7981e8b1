"""Every ticket-type task has a flow behind the one interface."""

from __future__ import annotations

from tests.pipeline.helpers import setup_support
from ticketctl.engine.enums import Task
from ticketctl.engine.flows import flow, tasks


def test_every_task_has_a_flow_with_the_whole_interface():
    assert set(tasks.FLOWS) == set(Task)
    for task, module in tasks.FLOWS.items():
        for event in ("new_ticket", "reply", "reassigned"):
            assert callable(getattr(module, event)), f"the {task} flow has no {event}"
            assert event in flow.Flow.__dict__


def test_an_assignment_type_needs_an_admin(cli, store, workdir):
    setup_support(store, workdir / "mail")
    args = ("type", "add", "Homework", "--task", "assignment", "--email-to", "homework@example.com", "--tag", "Hw",
            "--mailbox", "local")  # fmt: skip
    refused = cli(*args)
    assert refused.exit_code == 1
    assert "A ticket type with the task assignment needs an admin email" in refused.stderr
    assert cli(*args, "--admin-email", "office@example.com").exit_code == 0
