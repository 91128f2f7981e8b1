"""Error messages and log lines quote mail, servers and arguments: they never drive the terminal."""

from __future__ import annotations

import logging

import pytest

from ticketctl.commands import common

ESCAPES = "\x1b]0;owned\x07\x1b[2J\u202e"


@pytest.fixture(autouse=True)
def _restore_logging():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield
    root.handlers[:], root.level = saved[0], saved[1]


def test_an_error_message_shows_control_characters_as_escapes(cli):
    result = cli("mailbox", "show", f"box{ESCAPES}")
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr and "\u202e" not in result.stderr
    assert "There is no mailbox named 'box\\x1b]0;owned\\x07\\x1b[2J\\u202e'" in result.stderr


def test_a_log_line_is_one_line_with_visible_escapes_and_no_traceback(capsys):
    common.setup_logging(debug=False)
    try:
        raise ValueError(f"bad header{ESCAPES}\nsecond line")
    except ValueError:
        logging.getLogger("ticketctl.test").warning("cannot parse message %s", f"uid{ESCAPES}", exc_info=True)
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "\u202e" not in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "cannot parse message uid\\x1b]0;owned" in err
    assert "(ValueError: bad header\\x1b]0;owned\\x07\\x1b[2J\\u202e\\x0asecond line;" in err
    assert "--debug shows the traceback)" in err


def test_with_debug_the_traceback_is_shown_still_neutralised(capsys):
    common.setup_logging(debug=True)
    try:
        raise ValueError(f"bad{ESCAPES}")
    except ValueError:
        logging.getLogger("ticketctl.test").warning("failed", exc_info=True)
    err = capsys.readouterr().err
    assert "Traceback" in err and "\x1b" not in err
