"""The shipped mail templates, overrides from templates_dir, and the sandbox around both."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ticketctl.engine.errors import TemplateError
from ticketctl.engine.outbound import outbox
from ticketctl.engine.outbound.templating import MAIL_TEMPLATES

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = {
    "subject": "Essay <draft>",
    "body": "Please look at it.",
    "ticket": {"id": 9},
    "type": {"name": "essays"},
    "sender": {"name": "Sam", "email": "sam@example.org"},
    "student": {"name": "Sam", "email": "sam@example.org"},
    "tutor": {"name": "Tess", "email": "tess@example.org"},
}


@pytest.mark.parametrize("name", MAIL_TEMPLATES)
def test_every_shipped_template_renders_subject_text_and_html(name):
    rendered = outbox.render(name, CONTEXT)
    assert "Essay <draft>" in rendered.subject and "\n" not in rendered.subject
    assert "Please look at it." in rendered.text
    assert rendered.html is not None and "Please look at it." in rendered.html
    assert "<draft>" not in rendered.html  # autoescaped
    minimal = outbox.render(name, {"subject": "s", "body": "BODY-ONLY"})  # what every caller passes
    assert "BODY-ONLY" in minimal.text


def test_override_from_templates_dir(tmp_path):
    (tmp_path / "relay.txt").write_text("Relayed: {{ body }}")
    rendered = outbox.render("relay", CONTEXT, templates_dir=tmp_path)
    assert rendered.text == "Relayed: Please look at it."
    assert "Please look at it." in (rendered.html or "")  # files not overridden stay shipped


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ ''.__class__.__mro__ }}", "tries to reach outside the template sandbox"),
        ("{% for %}", "has a template error at line 1"),
    ],
)
def test_bad_override_is_a_template_error(tmp_path, text, expected):
    (tmp_path / "relay.txt").write_text(text)
    with pytest.raises(TemplateError, match=expected):
        outbox.render("relay", CONTEXT, templates_dir=tmp_path)


def test_unknown_template_is_a_sentence():
    with pytest.raises(TemplateError, match="There is no mail template 'welcome.subject'"):
        outbox.render("welcome", CONTEXT)


def test_engine_modules_import_without_jinja2_typer_or_rich():
    code = (
        "import sys\n"
        "import ticketctl.engine.outbound.outbox, ticketctl.engine.outbound.delivery, ticketctl.engine.desk.replies\n"
        "import ticketctl.engine.admin.canned, ticketctl.engine.mail.msgid, ticketctl.engine.outbound.senders\n"
        "print(sorted(m for m in ('jinja2', 'typer', 'rich') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"
