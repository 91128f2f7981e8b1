"""Rules are tested alone: a parsed message and a StoreView over a small temporary store."""

import pytest

from tests.pipeline.helpers import mail, setup_support
from ticketctl.engine.intake.rules import StoreView
from ticketctl.engine.mail import message


@pytest.fixture
def view(store, workdir):
    setup_support(store, workdir / "mail")
    return StoreView(store, mailbox_id=1)


def parsed(**kwargs) -> message.ParsedMessage:
    return message.parse(mail(**kwargs))
