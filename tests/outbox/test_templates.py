"""The shipped mail templates rendered with the typed contexts their callers build, overrides from
templates_dir, and the sandbox around both."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ticketctl.engine.enums import Purpose
from ticketctl.engine.errors import TemplateError
from ticketctl.engine.outbound import contexts
from ticketctl.engine.outbound.contexts import CONTEXTS, MailContext, Person, TypeFacts
from ticketctl.engine.outbound.templating import render_mail

ROOT = Path(__file__).resolve().parents[2]
TICKET = contexts.TicketFacts(9, "Essay <draft>", "new", "sam@example.org", "Sam", "2026-01-01T00:00:00Z")
TYPE = TypeFacts("Essays", "Essay", "simple_storage", "")
SAM = Person("Sam Student", "sam@example.org")
TESS = Person("Tess Tutor", "tess@example.org")
EXTRA = {
    "sender": SAM,
    "previous_type": None,
    "note": "Belongs to essays.",
    "contact": contexts.ContactFacts("Sam Student", "sam@example.org", "student"),
    "student": SAM,
    "tutor": TESS,
    "course": contexts.CourseFacts("CW200", "Creative Writing"),
    "attempt": 2,
    "courses": (contexts.CourseFacts("CW200", "Creative Writing"), contexts.CourseFacts("CW300", "Poetry")),
    "named": (),
}


def context_for(purpose: Purpose, **values: object) -> MailContext:
    """The purpose's context class, filled with sample values for every field it has."""
    cls = CONTEXTS[purpose]
    fields = {f.name for f in dataclasses.fields(cls)}
    base = {"ticket": TICKET, "type": TYPE, "subject": "Essay <draft>", "body": "Please look at it."}
    return cls(**{k: v for k, v in {**base, **EXTRA, **values}.items() if k in fields})


def test_every_purpose_has_a_context_and_templates():
    assert set(CONTEXTS) == set(Purpose)
    for purpose in Purpose:
        assert (ROOT / "ticketctl/templates" / f"{purpose}.subject").is_file()
        assert (ROOT / "ticketctl/templates" / f"{purpose}.txt").is_file()


@pytest.mark.parametrize("purpose", list(Purpose))
def test_every_shipped_template_renders_its_context(purpose):
    context = context_for(purpose)
    rendered = render_mail(purpose, context.variables())
    assert "Essay <draft>" in rendered.subject and "\n" not in rendered.subject
    assert "Please look at it." in rendered.text
    if rendered.html is not None:
        assert "Please look at it." in rendered.html
        assert "<draft>" not in rendered.html  # autoescaped
    for part in filter(None, (rendered.subject, rendered.text, rendered.html)):
        assert not re.search(r"\w  \w|#(?!\d)|\bNone\b", part), part


@pytest.mark.parametrize("purpose", [p for p in Purpose if p is not Purpose.REPLY])
def test_templates_name_the_ticket_and_who_wrote(purpose):
    rendered = render_mail(purpose, context_for(purpose).variables())
    assert "#9" in rendered.text
    who = TESS if purpose is Purpose.ASSIGNMENT_FEEDBACK else SAM
    assert (who.name or who.email) in rendered.text


@pytest.mark.parametrize(
    "purpose", [Purpose.ASSIGNMENT_SUBMITTED, Purpose.ASSIGNMENT_RESUBMITTED, Purpose.ASSIGNMENT_FEEDBACK]
)
def test_assignment_mails_name_the_course_the_student_and_the_attempt(purpose):
    rendered = render_mail(purpose, context_for(purpose).variables())
    for part in (rendered.subject, rendered.text, rendered.html or ""):
        assert "CW200" in part and "attempt 2" in part, part
    for part in (rendered.text, rendered.html or ""):
        assert "Creative Writing (CW200)" in part and SAM.name in part and TESS.name in part, part


def test_assignment_unclear_says_why_the_course_cannot_be_told():
    several = context_for(Purpose.ASSIGNMENT_UNCLEAR, named=EXTRA["courses"])
    unenrolled = context_for(Purpose.ASSIGNMENT_UNCLEAR, courses=())
    texts = {
        "none named": render_mail(Purpose.ASSIGNMENT_UNCLEAR, context_for(Purpose.ASSIGNMENT_UNCLEAR).variables()).text,
        "several named": render_mail(Purpose.ASSIGNMENT_UNCLEAR, several.variables()).text,
        "not enrolled": render_mail(Purpose.ASSIGNMENT_UNCLEAR, unenrolled.variables()).text,
    }
    assert (
        "enrolled in Creative Writing (CW200), Poetry (CW300), and the subject does not name any" in texts["none named"]
    )
    assert (
        "The subject names several of the courses Sam Student is enrolled in: Creative Writing (CW200), Poetry"
        in (texts["several named"])
    )
    assert "Sam Student is not enrolled in a course using Essays." in texts["not enrolled"]


def test_reassigned_names_the_previous_type_and_the_note():
    rendered = render_mail(
        Purpose.REASSIGNED, context_for(Purpose.REASSIGNED, previous_type=TypeFacts("Sales", "S", "x", "")).variables()
    )
    assert "reassigned from Sales to Essays" in rendered.text
    assert "Note: Belongs to essays." in rendered.text


def test_readme_lists_what_each_context_gives():
    readme = (ROOT / "ticketctl/templates/README.md").read_text()
    common = {f.name for f in dataclasses.fields(MailContext)}
    for purpose, cls in CONTEXTS.items():
        row = next(line for line in readme.splitlines() if line.startswith("|") and f"`{purpose}`" in line)
        extra = {f.name for f in dataclasses.fields(cls)} - common
        assert extra <= set(re.findall(r"`(\w+)`", row)), (purpose, extra)


def test_override_from_templates_dir(tmp_path):
    (tmp_path / "relay.txt").write_text("Relayed: {{ body }}")
    rendered = render_mail(Purpose.RELAY, context_for(Purpose.RELAY).variables(), templates_dir=tmp_path)
    assert rendered.text == "Relayed: Please look at it."
    assert "Please look at it." in (rendered.html or "")  # files not overridden stay shipped


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ ''.__class__.__mro__ }}", "tries to reach outside the template sandbox"),
        ("{% for %}", "has a template error at line 1"),
        ("{{ sender.nmae }} wrote", "uses something that is not defined"),
        ("{{ student }} wrote", "uses something that is not defined"),
    ],
)
def test_bad_override_is_a_template_error(tmp_path, text, expected):
    (tmp_path / "relay.txt").write_text(text)
    with pytest.raises(TemplateError, match=expected):
        render_mail(Purpose.RELAY, context_for(Purpose.RELAY).variables(), templates_dir=tmp_path)


def test_unknown_template_is_a_sentence():
    with pytest.raises(TemplateError, match="There is no mail template 'welcome.subject'"):
        render_mail("welcome", {})


def test_engine_modules_import_without_jinja2_typer_or_rich():
    code = (
        "import sys\n"
        "import ticketctl.engine.outbound.writer, ticketctl.engine.outbound.delivery, ticketctl.engine.desk.replies\n"
        "import ticketctl.engine.admin.canned, ticketctl.engine.mail.msgid, ticketctl.engine.outbound.senders\n"
        "print(sorted(m for m in ('jinja2', 'typer', 'rich') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"
