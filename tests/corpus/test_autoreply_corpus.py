"""The auto-reply mark over the external corpus: how many auto-replies it recognises, and how many
ordinary mails it takes for automatic (the goal: none).

`python -m tests.corpus.test_autoreply_corpus` prints the figures and every mail taken as automatic.

What each mail is was decided by reading it, not by the detector: the auto-replies are the ones
Sisimai's tables call `auto-reply` (sisimai/expected.json); the other machine mail below is named file
by file with what it is; every other mail of the Zammad, CPython and Sisimai `not/` folders counts as
ordinary. The bounce folders are left out: the `bounce` rule decides those before the mark is asked.
"""

from __future__ import annotations

import json

import pytest

from tests.corpus.test_corpus import CORPUS
from ticketctl.engine.mail.automatic import detect
from ticketctl.engine.mail.message import parse

pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"the shared mail corpus is not at {CORPUS}; these tests need it"
)

ORDINARY_FOLDERS = ("zammad/messages", "cpython-email/messages", "sisimai/messages/not")

# Machine mail in those folders that is not an auto-reply, and why it counts as a machine's.
MACHINE: dict[str, str] = {
    "zammad/messages/mail018.box": "delivery report from postmaster (Return-Path <>)",
    "zammad/messages/mail033-undelivered-mail-returned-to-sender.box": "delivery report (Postfix)",
    "zammad/messages/mail053.box": "delivery report (Postfix)",
    "zammad/messages/mail055.box": "delivery report (Postfix)",
    "zammad/messages/mail063.box": "delivery report (Postfix)",
    "zammad/messages/mail078.box": "delay report (Gmail)",
    "cpython-email/messages/msg_16.txt": "delivery report from postmaster, through a list",
    "cpython-email/messages/msg_25.txt": "delivery report (sendmail, Auto-Submitted)",
    "cpython-email/messages/msg_42.txt": "delivery report with no header that says so (the bounce rule reads it)",
    "cpython-email/messages/msg_43.txt": "virus-scanner notice from MAILER DAEMON <> (no address at all)",
    "zammad/messages/mail043.box": "newsletter (Precedence: bulk, List-Unsubscribe)",
    "zammad/messages/mail089.box": "ServiceNow notification (Auto-Submitted: auto-generated)",
    "zammad/messages/mail090.box": "ServiceNow notification (Auto-Submitted: auto-generated)",
    "zammad/messages/mail019.box": "spam sent with a null envelope sender (Return-Path <>)",
    "zammad/messages/mail035.box": "spam sent with a null envelope sender (Return-Path <>)",
}
# A person's words through a mailing list (Precedence: bulk, X-Loop): RFC 3834 section 2 says such mail
# is never answered automatically, so it is taken as automatic on purpose. Counted on its own.
LIST_POSTS: dict[str, str] = {
    "cpython-email/messages/msg_32.txt": "FreeBSD list post (Precedence: bulk)",
    "cpython-email/messages/msg_33.txt": "the same post",
}


def auto_replies() -> list[str]:
    expected = json.loads((CORPUS / "sisimai" / "expected.json").read_text(encoding="utf-8"))
    return sorted(f"sisimai/messages/{name}" for name, e in expected.items() if e.get("message_kind") == "auto-reply")


def ordinary() -> list[str]:
    files = (p for folder in ORDINARY_FOLDERS for p in (CORPUS / folder).iterdir() if p.is_file())
    names = (str(p.relative_to(CORPUS)) for p in files)
    return sorted(n for n in names if n not in MACHINE and n not in LIST_POSTS)


def automatic(names: list[str]) -> dict[str, str]:
    found = {name: detect(parse((CORPUS / name).read_bytes())) for name in names}
    return {name: why for name, why in found.items() if why}


def figures() -> dict[str, tuple[int, int]]:
    """(taken as automatic, of how many) for each kind of mail."""
    kinds = {"auto-replies": auto_replies(), "other machine mail": sorted(MACHINE),
             "list posts": sorted(LIST_POSTS), "ordinary mail": ordinary()}  # fmt: skip
    return {kind: (len(automatic(names)), len(names)) for kind, names in kinds.items()}


def test_every_auto_reply_of_the_corpus_is_recognised():
    replies = auto_replies()
    assert len(replies) == 3, "sisimai/expected.json names three auto-replies (rfc3834-02, -03, -04)"
    assert sorted(automatic(replies)) == replies


def test_no_ordinary_mail_is_taken_as_automatic():
    mails = ordinary()
    assert len(mails) == 113
    assert automatic(mails) == {}


def test_the_machine_mail_is_recognised_but_for_the_two_bounces_without_a_mark():
    assert set(MACHINE) - set(automatic(sorted(MACHINE))) == {
        "cpython-email/messages/msg_42.txt",
        "cpython-email/messages/msg_43.txt",
    }
    assert set(automatic(sorted(LIST_POSTS))) == set(LIST_POSTS)


if __name__ == "__main__":
    for kind, (taken, total) in figures().items():
        print(f"{kind}: {taken} of {total} taken as automatic")
    for name, why in automatic(auto_replies() + ordinary() + sorted(MACHINE) + sorted(LIST_POSTS)).items():
        print(f"  {name}: {why}")
