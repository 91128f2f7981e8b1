"""Which flow each ticket-type task follows. Every Task has an entry (a test holds it to that)."""

from __future__ import annotations

from ticketctl.engine.enums import Task
from ticketctl.engine.flows import assignment, bounce_back, question
from ticketctl.engine.flows.flow import Flow

FLOWS: dict[Task, Flow] = {
    Task.QUESTION: question,
    Task.ASSIGNMENT: assignment,
    Task.BOUNCE_BACK: bounce_back,
}


def flow_for(task: Task) -> Flow:
    return FLOWS[task]
