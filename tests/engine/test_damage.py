"""Damaged mail says what was damaged: base64 that stops inside a quad is noted by both parse paths (in
memory and from a file), harmless oddities are not, and each defect reads as a sentence."""

from __future__ import annotations

import base64
import os

import pytest

from ticketctl.engine.mail import damage, message


def with_attachment(encoded: str) -> bytes:
    return (
        "From: a@example.com\r\nTo: support@example.com\r\nSubject: report\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nAttached.\r\n'
        '--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="report.pdf"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--b--\r\n"
    ).encode()


GOOD = base64.encodebytes(os.urandom(2000)).decode().replace("\n", "\r\n").rstrip()


def both(raw: bytes, tmp_path) -> list[list[str]]:
    path = tmp_path / "message"
    path.write_bytes(raw)
    return [message.parse(raw).defects, message.parse_file(path, tmp_path).defects]


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_base64_cut_inside_a_quad_is_damage(cut, tmp_path):
    data = GOOD.replace("\r\n", "")[: 4 * 200 + cut]  # the transfer stopped `cut` characters into a quad
    truncated = "\r\n".join(data[i : i + 76] for i in range(0, len(data), 76))
    for defects in both(with_attachment(truncated), tmp_path):
        assert any("InvalidBase64" in d for d in defects), defects


def test_sound_or_merely_untidy_base64_is_not_damage(tmp_path):
    for encoded in (GOOD, GOOD.replace("\r\n", " \r\n"), GOOD.replace("A", "A!", 3)):
        assert both(with_attachment(encoded), tmp_path) == [[], []]


def test_each_defect_reads_as_a_sentence_naming_the_defect():
    said = damage.describe("InvalidBase64PaddingDefect")
    assert "cut short" in said and "InvalidBase64PaddingDefect" in said
    assert "raw MIME lines" in damage.describe("StartBoundaryNotFoundDefect")
    assert damage.describe("text/plain part: unknown charset 'x'") == "text/plain part: unknown charset 'x'"
