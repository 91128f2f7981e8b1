"""Text from mail (subject, sender name, body, attachment name) cannot drive the terminal or Rich."""

from __future__ import annotations

import json

import pytest

from tests.staff import builders as b
from ticketctl.commands.common import safe

CLEAR = "\x1b[2J\x1b[H"
TITLE = "\x1b]0;pwned\x07"
LINK = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
C1 = "\x9b31m\x9d0;c1title\x9c"
BIDI = "\u202egnp.exe"
MARKUP = "[bold red]LOUD[/bold red] [link=http://evil.example]x[/link]"


@pytest.fixture
def hostile(store):
    ticket = b.ticket(
        store,
        subject=f"Hello {CLEAR}{TITLE}{MARKUP}",
        from_name=f"Mallory {TITLE}{C1}",
        from_email="mallory@example.com",
        kind="invalid",
    )
    log = b.log(
        store,
        ticket,
        subject=f"Hello {CLEAR}{TITLE}{MARKUP}",
        body=f"Body {LINK} {MARKUP} {C1} {BIDI}\r\nfake line",
        from_name=f"Mallory {TITLE}",
    )
    b.attachment(store, log, f"invoice{TITLE}{BIDI}[red]x[/red].pdf", b"data")
    return ticket


def assert_inert(text: str) -> None:
    for live in ("\x1b", "\x07", "\x9b", "\x9d", "\x9c", "\u202e", "\r"):
        assert live not in text, f"live {live!r} in output"
    assert "[bold red]LOUD[/bold red]" in text  # markup shown literally, not interpreted


@pytest.mark.parametrize("command", [("tickets", "list"), ("tickets", "show", "1")])
def test_output_has_no_live_sequences(cli, hostile, command):
    result = cli(*command)
    assert result.exit_code == 0, result.stderr
    assert_inert(result.stdout)
    assert "\\x1b]0;pwned\\x07" in result.stdout  # the title sequence shows as visible text


def test_show_shows_every_field_escaped(cli, hostile):
    out = cli("tickets", "show", "1").stdout
    assert "Mallory \\x1b]0;pwned\\x07\\x9b31m\\x9d0;c1title\\x9c" in out
    assert "invoice\\x1b]0;pwned\\x07\\u202egnp.exe[red]x[/red].pdf" in out
    assert "\\x1b]8;;http://evil.example/\\x1b\\click" in out
    assert "[link=http://evil.example]x[/link]" in out


def test_even_with_colour_forced_only_our_styles_reach_the_terminal(cli, hostile):
    result = cli("tickets", "show", "1", env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert result.exit_code == 0
    assert "\x1b[1m" in result.stdout  # Rich really did style the output
    for sequence in (CLEAR, TITLE, "\x1b]8;;http://evil", "\x07", "\x9b", "\u202e"):
        assert sequence not in result.stdout
    assert "\x1b]8;" not in result.stdout  # no hyperlink from [link=...] markup


def test_json_is_inert_but_keeps_the_data(cli, hostile):
    result = cli("tickets", "show", "1", "--json")
    for live in ("\x1b", "\x07", "\x9b", "\x9d", "\u202e"):
        assert live not in result.stdout
    data = json.loads(result.stdout)
    assert data["from_name"] == f"Mallory {TITLE}{C1}"  # scripts get the true value back
    assert data["logs"][0]["attachments"][0]["filename"] == f"invoice{TITLE}{BIDI}[red]x[/red].pdf"


def test_safe_covers_each_kind_of_sequence():
    assert safe("a\x1b[31mb") == "a\\x1b[31mb"
    assert safe("\x1b]0;t\x07") == "\\x1b]0;t\\x07"
    assert safe("\x9b2J\x85") == "\\x9b2J\\x85"
    assert safe("x\u202ey\u2066z\u200b\ufeff") == "x\\u202ey\\u2066z\\u200b\\ufeff"
    assert safe("bad \udc9b byte") == "bad \\udc9b byte"
    assert safe("[b]hi[/b]") == "\\[b]hi\\[/b]"
    assert safe("line\nnext\ttab") == "line\nnext\ttab"
    assert safe("line\nnext\ttab", oneline=True) == "line\\x0anext\\x09tab"
    assert safe(None) == ""
