"""Templates that would eat the machine: refused when a canned response is saved, stopped when one is
used, each within a second and in bounded memory; a broken override stops the run before any mail is
taken in, with one sentence naming the file and the line."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from tests.pipeline.helpers import deliver, mail, setup_support, waiting
from tests.staff import builders as b
from ticketctl.engine.admin import canned
from ticketctl.engine.errors import TemplateError

LIMIT = "goes beyond what a template may do"
BOMBS = {
    "nested ranges (the issue's)": "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
    "string times two billion (the issue's)": "{{ 'x' * 2000000000 }}",
    "nested loops writing nothing": "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
    "loops over long strings": "{% for a in 'x' * 100000 %}{% for b in 'x' * 100000 %}{% endfor %}{% endfor %}",
    "a huge power": "{{ 7 ** 77777777 }}",
    "a repeated number": "{{ 10 ** 1000 * 10 ** 1000 * 10 ** 1000 * 10 ** 1000 * 10 ** 1000 }}",
    "ljust": "{{ 'x'.ljust(2000000000) }}",
    "str.format width": "{{ '{:>2000000000}'.format(1) }}",
    "str.format repeating a long argument": "{{ ('{0}' * 300000).format('y' * 100000) }}",
    "printf width": "{{ '%2000000000d' % 1 }}",
    "printf repeating a long argument": "{{ ('%(a)s' * 150000) % {'a': 'y' * 100000} }}",
    "center filter": "{{ 'x'|center(2000000000) }}",
    "indent filter": "{{ ('\\n' * 100000)|indent(100000) }}",
    "join with a long separator": "{{ ('y' * 100000).join(['a'] * 100000) }}",
    "join filter": "{{ (['a'] * 100000)|join('y' * 100000) }}",
    "replace": "{{ ('x' * 100000).replace('x', 'y' * 100000) }}",
    "replace filter": "{{ ('x' * 100000)|replace('x', 'y' * 100000) }}",
    "batch filled up": "{{ range(3)|batch(2000000000, 'x')|list }}",
    "wordwrap": "{{ ('x ' * 400000)|wordwrap(1, wrapstring='y' * 1000) }}",
    "doubling with ~": "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}",
    "doubling a list with +": "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}"
    "{% endfor %}",
    "doubling in set blocks": "{% set s = 'x' * 1000 %}" + "{% set s %}{{ s }}{{ s }}{% endset %}" * 30,
    "macros writing exponentially": "{% macro a() %}xxxxxxxxxxxxxxxx{% endmacro %}"
    + "".join(f"{{% macro m{i}() %}}{{{{ {p}() }}}}{{{{ {p}() }}}}{{{{ {p}() }}}}{{% endmacro %}}" for i, p in
              enumerate(["a", "m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10", "m11", "m12"]))
    + "{{ m13() }}",
    "a macro calling itself": "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}",
    "many copies of a long text": "{% for i in range(10000) %}" + "y" * 100_000 + "{% endfor %}",
}  # fmt: skip


def timed_and_measured(action):
    """Run `action` twice: once timed, once under tracemalloc for its peak of Python memory."""
    started = time.perf_counter()
    with pytest.raises(TemplateError) as caught:
        action()
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError):
            action()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return str(caught.value), elapsed, peak


@pytest.mark.parametrize("body", BOMBS.values(), ids=BOMBS.keys())
def test_canned_add_refuses_a_bomb_fast_and_small(store, body):
    message, elapsed, peak = timed_and_measured(lambda: canned.add(store, "bomb", body))
    assert message.startswith("The body of canned response 'bomb' ")
    assert LIMIT in message or "calls itself too deeply" in message
    assert message.endswith(".") and "\n" not in message
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    assert peak < 64 * 1024 * 1024, f"{peak / 1e6:.0f} MB"
    assert canned.list_all(store) == []


def test_the_cli_says_it_in_one_sentence(cli):
    result = cli("canned", "add", "bomb", "--body", BOMBS["string times two billion (the issue's)"])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: The body of canned response 'bomb' goes beyond what a template may do at line 1: it would build "
        "a repeated value of about 2,000,000,000 characters, more than 1,000,000; make it smaller.\n"
    )


@pytest.mark.parametrize(
    "body",
    [
        "{% for i in range(1000) %}{{ i }} {% endfor %}",
        "{{ 'x' * 100000 }}",
        "{{ '%-20s|' % ticket.subject }}{{ '{:>10}'.format(ticket.id) }}",
        "{{ (contact.name ~ ', ') * 3 }}{{ ['a', 'b']|join(', ') }}{{ 'one two'|wordwrap(3)|indent(2) }}",
        "{% macro hi(n) %}Hello {{ n }}{% endmacro %}{{ hi(contact.name) }}{{ 2 ** 64 }}",
        "{{ ticket.subject|replace('A', 'The') }}{{ range(5)|batch(2)|list }}{{ ('x' * 1000)|center(2000)|length }}",
    ],
)
def test_ordinary_templates_still_render(store, body):
    canned.add(store, "fine", body)
    subject, text = canned.render(canned.get(store, "fine"), canned.SAMPLE_CONTEXT)
    assert text


def test_a_bomb_that_waits_for_another_ticket_is_stopped_when_used(cli, store):
    """The sample ticket is number 1; this one explodes for any other. The reply is refused, not queued."""
    ticket = b.ticket(store, type_id=b.ticket_type(store), contact_id=b.contact(store, "c@example.com", "C"))
    ticket = b.ticket(store, type_id=b.ticket_type(store, "Other", "Other"), contact_id=1)
    body = "{% if ticket.id > 1 %}{{ 'x' * 2000000000 }}{% endif %}Hello"
    assert cli("canned", "add", "sly", "--body", body).exit_code == 0
    started = time.perf_counter()
    result = cli("tickets", "reply", str(ticket), "--canned", "sly")
    assert time.perf_counter() - started < 2.0
    assert result.exit_code == 1
    assert f"The body of canned response 'sly' {LIMIT} at line 1: it would build a repeated value" in result.stderr
    assert store.one("SELECT count(*) AS n FROM email_queue")["n"] == 0


def test_a_too_long_template_text_is_refused(store):
    with pytest.raises(TemplateError, match="is 1,000,001 characters long, more than 1,000,000; make it smaller"):
        canned.add(store, "long", "y" * 1_000_001)


# --- overrides in templates_dir -----------------------------------------------------------------


@pytest.fixture
def overridden(workdir, store):
    """A Maildir with one mail waiting, a question type, and a templates_dir the config names."""
    (workdir / "overrides").mkdir()
    (workdir / "ticketctl.yaml").write_text("templates_dir: overrides\n")
    maildir = workdir / "mail"
    setup_support(store, maildir)
    deliver(maildir, mail())
    return {"dir": workdir / "overrides", "maildir": maildir}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "A new ticket\n{{ ticket.id }\n",
            "has a template error at line 2: unexpected '}'; fix it.",
        ),
        (
            "Hello\n\n{{ ticket.nonsense_field }}\n",
            "uses something that is not defined at line 3 ('ticketctl.engine.outbound.contexts.TicketFacts object'"
            " has no attribute 'nonsense_field'); use only the variables templates/README.md lists",
        ),
        ("x\n{{ 'x' * 2000000000 }}\n", f"{LIMIT} at line 2: it would build a repeated value"),
    ],
    ids=["syntax", "undefined", "bomb"],
)
def test_a_broken_override_stops_the_run_before_any_mail_is_taken_in(cli, store, overridden, text, says):
    path = overridden["dir"] / "new_ticket.txt"
    path.write_text(text)
    run = cli("process")
    assert run.exit_code == 1
    assert run.stderr.startswith(f"Error: No mail was taken in, because the override template {path} {says}")
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert len(waiting(overridden["maildir"])) == 1
    assert store.one("SELECT count(*) AS n FROM ledger")["n"] == 0
    assert store.one("SELECT count(*) AS n FROM tickets")["n"] == 0

    status = cli("status")
    assert status.exit_code == 1
    assert f"The override template {path} {says}" in status.stdout
    assert "Until then `ticketctl process` takes no mail in." in status.stdout

    path.write_text("A new ticket: {{ subject }} (#{{ ticket.id }})\n\n{{ body }}\n")  # fixed
    fixed = cli("process")
    assert fixed.exit_code == 0, fixed.stderr
    assert "local: 1 message(s): 1 new_ticket" in fixed.stdout
    assert "A new ticket: Printer on fire (#1)" in store.one("SELECT body_text FROM ticket_logs WHERE id = 2")[0]


def test_a_broken_partial_is_found_too(cli, overridden):
    (overridden["dir"] / "partials").mkdir()
    (overridden["dir"] / "partials" / "footer.txt").write_text("{% if %}\n")
    run = cli("process")
    assert run.exit_code == 1
    assert f"the override template {overridden['dir'] / 'partials' / 'footer.txt'} has a template error at line 1" in (
        run.stderr
    )
