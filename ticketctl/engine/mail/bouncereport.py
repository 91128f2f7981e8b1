"""Reading delivery reports (bounces): whether a parsed message is one, which addresses failed and how,
and which mail it returns.

The failed addresses come from the first of these that names any:
1. RFC 3464 delivery-status fields, one block per recipient (Final-/Original-Recipient, Action,
   Status, Diagnostic-Code, Remote-MTA): in `message/delivery-status` and
   `message/global-delivery-status` parts wherever they sit in the MIME tree, else in the report's
   text (a report whose MIME structure is broken).
2. `X-Failed-Recipients` (Exim and others), and Amazon SES's JSON notifications.
3. flufl.bounce's detectors for the non-standard reports of the MTAs it knows (given the raw bytes:
   it reads an `email.message.Message`).
4. The report's own text: the addresses it names, but for senders, contacts and Message-IDs.

`failed` with a 5.x.x status is permanent, with 4.x.x temporary; `delayed` is a delay, not a failure;
`delivered`, `relayed` and `expanded` are no failure at all. The returned original (`message/rfc822`,
`text/rfc822-headers`, or the copy quoted below the report's text) is kept apart: its addresses are
never failed ones, its Message-ID says which mail bounced. A report is recognised without a
delivery-status part by its sender (a mail daemon, a null sender) with a bounce subject or text, in
several languages. Nothing here raises on bad input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ticketctl.engine.mail.message import ParsedMessage

PERMANENT, TEMPORARY, DELAYED = "permanent", "temporary", "delayed"  # what happened to one address
FAILURE, DELAY, SUCCESS = "failure", "delay", "success"  # what a report says, as a whole

_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_RETURNED_TYPES = ("message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers")
_DELIVERED = ("delivered", "relayed", "expanded")
_MAX_TEXT = 64 * 1024  # of the body read: reports are short, the copies they return need not be
_MAX_DIAGNOSTIC = 1000


@dataclass(frozen=True)
class Recipient:
    """One address a report says failed or is delayed."""

    address: str  # lower-cased
    kind: str  # PERMANENT, TEMPORARY or DELAYED
    status: str | None = None  # RFC 3463 code, e.g. "5.1.1"
    action: str | None = None  # the DSN's Action ("failed", "delayed") when it has one
    diagnostic: str | None = None  # the Diagnostic-Code, or the report's line about the address
    remote_mta: str | None = None
    original: str | None = None  # the Original-Recipient, when it differs from the address


@dataclass(frozen=True)
class Report:
    kind: str  # FAILURE, DELAY or SUCCESS
    how: str  # what it was read as, for the ledger's reason
    recipients: tuple[Recipient, ...]
    returned_ids: tuple[str, ...] = ()  # Message-IDs in the returned original, its own first
    returned_subject: str | None = None
    envelope_senders: tuple[str, ...] = ()  # the envelope sender the report names (X-Postfix-Sender)


def read(msg: ParsedMessage, raw: bytes | None = None) -> Report | None:
    """The delivery report `msg` is; None when it is none (a feedback report and a read receipt are
    none either). With `raw`, flufl.bounce reads what the standard fields do not."""
    if not (may_be_report(msg) if msg.report_hint is None else msg.report_hint):
        return None  # most mail stops here, after a few header looks (a parse worker's, ahead)
    content_type = (msg.header("Content-Type") or "").lower()
    text, quoted = _split(msg.body_text[:_MAX_TEXT])
    returned = _returned(msg, quoted)
    dsn = _dsn(msg, text)
    if dsn is not None and dsn.delivered and not dsn.recipients:
        return _report(SUCCESS, "a delivery status notification that the mail was delivered", [], returned, dsn)
    listed = _header_addresses(msg, "X-Failed-Recipients")
    ses = _ses(text)
    if dsn is None and not listed and ses is None and not _looks_like_bounce(msg, content_type, text, returned):
        return None
    what = "a delivery status notification" if dsn is not None else "a delivery failure report"
    if dsn is not None and dsn.recipients:
        found, how = dsn.recipients, f"{what} (RFC 3464)"
    elif listed:
        found, how = [_from_text(a, text) for a in listed], f"{what} (X-Failed-Recipients)"
    elif ses is not None:
        found, how = ses, "an Amazon SES bounce notification"
    else:
        found, how = _unstructured(text, raw, returned, _excluded(msg, returned), what)
    return _report(_kind(found, text), how, found, returned, dsn)


def own_text(msg: ParsedMessage) -> str:
    """The report's own text, without the copy of the mail it returns."""
    return _split(msg.body_text[:_MAX_TEXT])[0].strip()


def _unstructured(
    text: str, raw: bytes | None, returned: _Returned, exclude: _Excluded, what: str
) -> tuple[list[Recipient], str]:
    """The failed addresses of a report without standard fields, and what read them."""
    found = _flufl(raw, text, exclude) if raw else []
    if found:
        return found, f"{what} (read by flufl.bounce)"
    found = _text_recipients(text, exclude)
    if found:
        return found, f"{what} (read from its text)"
    if len(returned.recipients) == 1:  # the report is about the mail, and it had one recipient
        status = next((c for c in map(_status_of, text.split("\n")) if c), "")
        delay = _is_delay_text(text)
        kind = DELAYED if delay else TEMPORARY if status.startswith("4") else PERMANENT
        found = [Recipient(returned.recipients[0], kind, status or None)]
        return found, f"{what} (the returned mail's only recipient)"
    return [], f"{what} whose failed address could not be read"


def may_be_report(msg: ParsedMessage) -> bool:
    """Whether anything at all says `msg` may be a delivery report (not a feedback report or a read
    receipt): cheap looks that pass every one, False for most mail."""
    content_type = (msg.header("Content-Type") or "").lower()
    return not _NOT_DELIVERY.search(content_type) and (
        any(a.content_type in _DSN_TYPES for a in msg.attachments)
        or "x-failed-recipients" in msg.headers
        or _JSON_BODY.match(msg.body_text) is not None
        or _from_machine(msg, content_type)
        or bool(_SUBJECT.search(msg.subject or ""))
    )


_JSON_BODY = re.compile(r"\s*\{")
_NOT_DELIVERY = re.compile(r"report-type\s*=\s*\"?(feedback-report|disposition-notification)", re.I)


def _kind(recipients: list[Recipient], text: str) -> str:
    if recipients:
        return DELAY if all(r.kind == DELAYED for r in recipients) else FAILURE
    return DELAY if _is_delay_text(text) else FAILURE


# --- the report as a whole -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Returned:
    present: bool
    message_ids: tuple[str, ...]
    subject: str | None
    senders: tuple[str, ...]  # its From, Sender, Reply-To, Return-Path: never a failed address
    recipients: tuple[str, ...] = ()  # its To and Cc


@dataclass(frozen=True)
class _Dsn:
    recipients: list[Recipient]
    per_message: dict[str, str]
    delivered: bool  # some recipient was delivered (relayed, expanded)


def _report(kind: str, how: str, recipients: list[Recipient], returned: _Returned, dsn: _Dsn | None = None) -> Report:
    unique: dict[str, Recipient] = {}
    for r in recipients:
        unique.setdefault(r.address, r)
    per_message = dsn.per_message if dsn else {}
    sender = _address_in(per_message.get("x-postfix-sender", ""))
    return Report(
        kind=kind,
        how=how,
        recipients=tuple(unique.values()),
        returned_ids=returned.message_ids,
        returned_subject=returned.subject,
        envelope_senders=(sender,) if sender else (),
    )


# --- 1. RFC 3464 ---------------------------------------------------------------------------------


def _dsn(msg: ParsedMessage, text: str) -> _Dsn | None:
    """The delivery-status fields of the message's parts, else of its text; None when it has none.
    A part with no readable recipient still makes it a report (with no address)."""
    parts = [a for a in msg.attachments if a.content_type in _DSN_TYPES]
    if parts:
        return _dsn_of([_field_blocks(_text(part.read())) for part in parts])
    if _DSN_TEXT.search(text):
        found = _dsn_of([_field_blocks(text)])
        if found.recipients or found.delivered:
            return found
    return None


_DSN_TEXT = re.compile(r"^\s*(final|original)-recipient\s*:", re.I | re.M)


def _dsn_of(part_blocks: list[list[dict[str, str]]]) -> _Dsn:
    recipients: list[Recipient] = []
    per_message: dict[str, str] = {}
    delivered = False
    for blocks in part_blocks:
        for block in blocks:
            if "final-recipient" not in block and "original-recipient" not in block:
                for name, value in block.items():
                    per_message.setdefault(name, value)
                continue
            if _action(block) in _DELIVERED or _status(block.get("status", ""))[:1] == "2":
                delivered = True
                continue
            recipient = _dsn_recipient(block)
            if recipient is not None:
                recipients.append(recipient)
    return _Dsn(recipients, per_message, delivered)


def _field_blocks(text: str) -> list[dict[str, str]]:
    """The header-like blocks of a delivery-status body: field name (lower-case) -> value, folded lines
    joined. A block ends at a blank line, or where a recipient's field repeats (reports that leave out
    the blank line between recipients)."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    name = None
    for line in text.split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
            current, name = {}, None
            continue
        if line[:1] in (" ", "\t") and name:
            current[name] += " " + line.strip()
            continue
        match = _FIELD.match(line.strip())
        if not match:
            name = None
            continue
        name, value = match.group(1).lower(), match.group(2).strip()
        if name in current and name in ("final-recipient", "original-recipient", "action"):
            blocks.append(current)
            current = {}
        current[name] = value
    if current:
        blocks.append(current)
    return blocks


_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)[ \t]*:(.*)$")


def _action(block: dict[str, str]) -> str:
    words = block.get("action", "").lower().split()
    return words[0] if words else ""


def _dsn_recipient(block: dict[str, str]) -> Recipient | None:
    final = _address_in(_after_type(block.get("final-recipient")) or "")
    original = _address_in(_after_type(block.get("original-recipient")) or "")
    address = final or original
    if not address:
        return None
    diagnostic = " ".join((block.get("diagnostic-code") or "").split())[:_MAX_DIAGNOSTIC] or None
    status = _status(block.get("status", ""))
    remote = _after_type(diagnostic) or ""
    said = _status(remote)  # the remote server's own code, when it gave one
    if said and said[0] != status[:1]:
        status = said  # it says otherwise than the report (or the report has no Status)
    status = status or _status_of(remote)
    action = _action(block)
    if action == "delayed":
        kind = DELAYED
    else:
        kind = TEMPORARY if status.startswith("4") else PERMANENT
    return Recipient(
        address=address,
        kind=kind,
        status=status or None,
        action=action or None,
        diagnostic=diagnostic,
        remote_mta=_after_type(block.get("remote-mta")),
        original=original if original and original != address else None,
    )


_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_REPLY_CODE = re.compile(r"(?<![\d.:#/=-])([245])[0-5]\d(?=[ -][ A-Za-z<(\[]|$)")


def _status(value: str) -> str:
    match = _STATUS.search(value)
    return ".".join(match.groups()) if match else ""


def _status_of(line: str) -> str:
    """The enhanced status code in a line, else its SMTP reply code as x.0.0; "" if it has neither."""
    code = _status(line)
    if code:
        return code
    reply = _REPLY_CODE.search(line)
    return f"{reply.group(1)}.0.0" if reply else ""


def _after_type(value: str | None) -> str | None:
    """`rfc822; a@b` -> `a@b`, `dns; mx.example` -> `mx.example` (what follows its type)."""
    if not value:
        return None
    _, semicolon, rest = value.partition(";")
    return (rest if semicolon else value).strip() or None


# --- 2. X-Failed-Recipients, Amazon SES ----------------------------------------------------------


def _header_addresses(msg: ParsedMessage, name: str) -> list[str]:
    found: list[str] = []
    for value in msg.headers.get(name.lower(), []):
        for item in re.split(r"[,\s]+", value):
            address = _address_in(item)
            if address and address not in found:
                found.append(address)
    return found


def _ses(text: str) -> list[Recipient] | None:
    """The bounced recipients of an Amazon SES notification (a JSON body, possibly inside an SNS
    envelope)."""
    if not _JSON_BODY.match(text) or "notificationType" not in text:
        return None
    body = text.replace('\\"', '"').replace("\n", "")
    if not re.search(r'"notificationType"\s*:\s*"Bounce"', body):
        return None
    transient = re.search(r'"bounceType"\s*:\s*"Transient"', body) is not None
    found = []
    for item in re.finditer(r'\{[^{}]*"emailAddress"\s*:\s*"([^"]+)"[^{}]*\}', body):
        address = _address_in(item.group(1))
        if address:
            status = _status(item.group(0))
            kind = TEMPORARY if transient or status.startswith("4") else PERMANENT
            diagnostic = re.search(r'"diagnosticCode"\s*:\s*"([^"]*)"', item.group(0))
            found.append(
                Recipient(address, kind, status or None, diagnostic=diagnostic.group(1) if diagnostic else None)
            )
    return found


# --- 3. flufl.bounce -----------------------------------------------------------------------------


def _flufl(raw: bytes, text: str, exclude: _Excluded) -> list[Recipient]:
    """What the first of flufl.bounce's detectors that finds anything reads, but for the addresses
    that are no failed ones. Each detector runs alone: one that raises (they do, on reports they do
    not know) must not stop the others, nor reach the log."""
    import email

    from flufl.bounce._scan import _DETECTORS

    message = email.message_from_bytes(normalise(raw))
    for detector in _DETECTORS:
        try:
            temporary, permanent = detector().process(message)
        except Exception:
            continue
        found = []
        for items, warning in ((temporary, True), (permanent, False)):
            for item in items:
                address = _address_in(item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item))
                if address and address not in exclude.never and address not in exclude.senders:
                    found.append(_from_text(address, text, delayed=warning))
        if found:
            return found
    return []


def normalise(raw: bytes) -> bytes:
    """CRLF and CR-only line endings as LF, for parsers that read lines."""
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


# --- 4. the text of the report -------------------------------------------------------------------


@dataclass(frozen=True)
class _Excluded:
    never: frozenset[str]  # never a failed address: the report's own sender, every Message-ID it quotes
    senders: frozenset[str]  # the returned copy's senders: for readers that scan that copy too


def _excluded(msg: ParsedMessage, returned: _Returned) -> _Excluded:
    ids = [
        *returned.message_ids,
        *msg.references,
        *msg.in_reply_to,
        *_QUOTED_ID.findall(msg.body_text[: _MAX_TEXT * 4]),
    ]
    own = [msg.from_.email] if msg.from_ else []
    never = frozenset(i.lower() for i in (*own, *ids, *([msg.message_id] if msg.message_id else [])))
    return _Excluded(never, frozenset(returned.senders))


_QUOTED_ID = re.compile(r"(?im)^[ \t>]*(?:message-id|references|in-reply-to)\s*:\s*<?([^<>\s]+@[^<>\s]+?)>?\s*$")


def _text_recipients(text: str, exclude: _Excluded) -> list[Recipient]:
    """The addresses the report's text names, but on lines about senders, ids and whom to contact; an
    address in angle brackets wins over a bare one on its line; `(expanded from: X)` names the address
    the mail was sent to."""
    found: list[str] = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if _SENDER_LINE.match(line):
            continue
        bracketed = _BRACKETED.findall(line)
        candidates = bracketed or [m.group(0) for m in _ADDRESS.finditer(line)]
        for candidate in candidates:
            start = line.lower().find(candidate.lower())
            after = (line[start + len(candidate) :] + " " + "".join(lines[i + 1 : i + 2])).lstrip(" >")
            if start >= 0 and (_CONTACT.search(line[max(0, start - 60) : start]) or _CONTACT_AFTER.match(after)):
                continue
            address = _address_in(candidate)
            if address is None or address in exclude.never:
                continue
            if address not in found:
                found.append(address)
    # the returned copy's sender is our own address; but a test mail to oneself bounces too
    others = [a for a in found if a not in exclude.senders]
    return [_from_text(a, text) for a in others or found]


_SENDER_LINE = re.compile(
    r"^[ \t>]*(from|to|cc|sender|reply-to|return-path|mail from|envelope-from|message-id|references|in-reply-to|"
    r"received|x-[\w-]+|errors-to|list-[\w-]+|dkim-signature|authentication-results)\s*[:=]",
    re.I,
)
_CONTACT = re.compile(
    r"((?<!generated )(?<!expanded )\bfrom|sender|sent by|contact|send (an? )?(e-?mail|mail|message|note) to|"
    r"write to|e-?mail to|report (it|this|them) to|"
    r"forward (it|this message) to|help ?desk|postmaster|administrator|by email:?)[^@]*$",
    re.I,
)
_CONTACT_AFTER = re.compile(r"(へ|まで|に)?(ご連絡|お問い?合わせ|連絡して)")
_EXPANDED = re.compile(r"\(expanded from:?\s*<?([^<>\s()]+@[^<>\s()]+)>?\)", re.I)  # after the address
_BRACKETED = re.compile(r"<([^<>\s]+@[^<>\s]+)>")
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")


def _from_text(address: str, text: str, delayed: bool | None = None) -> Recipient:
    """An address found outside delivery-status fields, classed by the status code written with it
    (on its line or the next few), else by what the report says as a whole; `(expanded from: X)`
    after it names the address the mail was sent to."""
    status, line = _code_near(address, text)
    delay = delayed if delayed is not None else _is_delay_text(text)
    if status:
        kind = PERMANENT if status.startswith("5") else DELAYED if delay else TEMPORARY
    else:
        kind = DELAYED if delay else PERMANENT
    expanded = re.search(re.escape(address) + r"[>\s]*" + _EXPANDED.pattern, text, re.I)
    original = _address_in(expanded.group(1)) if expanded else None
    return Recipient(address=address, kind=kind, status=status or None, diagnostic=line, original=original)


def _code_near(address: str, text: str) -> tuple[str, str | None]:
    """The status code written on the address's line or the next ones (until another address), and
    that line."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if address in line.lower():
            for near in lines[i : i + 6]:
                others = {a.lower() for a in _ADDRESS.findall(near)} - {address}
                if near is not line and others:
                    break
                code = _status_of(near)
                if code:
                    return code, " ".join(near.split())[:_MAX_DIAGNOSTIC]
            break
    return "", None


def _is_delay_text(text: str) -> bool:
    return bool(_DELAY_TEXT.search(text)) and not _FAILED_TEXT.search(text)


_DELAY_TEXT = re.compile(
    r"(delivery (is|has been) delayed|delayed mail|still being retried|will (continue to )?(be )?retr(y|ied)|"
    r"has not (yet )?been delivered|not been delivered yet|warning: could not send message|will keep trying|"
    r"delivery attempts will continue|temporarily deferred|verzögert|retardée?|retrasad[oa]|ritardat[oa])",
    re.I,
)
_FAILED_TEXT = re.compile(
    r"(permanent(ly)? (fatal )?(error|failure)|failed permanently|giving up|gave up|has been returned|"
    r"could not be delivered to|unzustellbar|n'a pas pu être remis|non remis)",
    re.I,
)


# --- recognising a report without a delivery-status part -----------------------------------------


def _looks_like_bounce(msg: ParsedMessage, content_type: str, text: str, returned: _Returned) -> bool:
    subject = msg.subject or ""
    if _FORWARD.match(subject):
        return False  # a person forwarding a report asks about it: a ticket
    said, wrote = bool(_SUBJECT.search(subject)), bool(_BODY.search(text[:8000]))
    if _from_machine(msg, content_type):
        return said or wrote
    # no machine sent it, as far as its headers say: only a report through and through
    return said and wrote and not _REPLY.match(subject) and (returned.present or bool(_FAILED_ADDRESS.search(text)))


def _from_machine(msg: ParsedMessage, content_type: str) -> bool:
    sender = msg.from_.email if msg.from_ else ""
    names = [msg.from_.name if msg.from_ else "", msg.header("From") or "", sender.replace("_", " ")]
    return_path = (msg.header("Return-Path") or "").strip()
    return (
        _is_daemon(sender)
        or _is_daemon(return_path.strip("<>"))
        or any(_DAEMON_NAME.search(n) for n in names)
        or return_path == "<>"
        or "<>" in (msg.header("From") or "")
        or "multipart/report" in content_type
    )


_FORWARD = re.compile(r"^\s*(fwd?|fw|wg|tr|rv|enc|doorst|vs|vb|vl|vid|pd|i)\s*:", re.I)
_REPLY = re.compile(r"^\s*(re|aw|sv|antw|vs|r|ref|odp|res)\s*(\[\d+\])?\s*:", re.I)
_DAEMON_LOCAL = re.compile(
    r"^(mailer-daemon|mailer_daemon|maildaemon|mail-daemon|mailerdaemon|postmaster|post_master|mdaemon|"
    r"mail\.?delivery(system|subsystem)?|mail-?delivery-?system|mail_?administrator|smtp-gateway)@",
    re.I,
)
_DAEMON_NAME = re.compile(
    r"(mailer[- ]daemon|mail delivery (sub)?system|mail administrator|postmaster|system administrator|"
    r"mail (delivery )?service|mail ?system|delivery (status )?notification|mail ?delivery|mail transport|"
    r"smtp (server|mail service|gateway)|e-?mail (gateway|system))",
    re.I,
)


def _is_daemon(address: str) -> bool:
    return bool(_DAEMON_LOCAL.match(address or ""))


_SUBJECT = re.compile(
    r"(undeliver|not delivered|delivery (status|failure|failed|has failed|report|problem|notification|error|"
    r"warning|delayed)|returned mail|return(ed)? to sender|failure notice|mail delivery failed|"
    r"could not be delivered|non[- ]?delivery|nondeliverable|mail system error|failed mail|mail failed|"
    r"mail failure|failure delivery|delayed mail|warning: could not send|user unknown|mail error|"
    r"error during delivery|"
    r"unzustellbar|nicht zugestellt|zustellung|non remis|non distribuable|échec de (la )?remise|"
    r"no se (ha )?pudo entregar|no entregado|non recapitat|mancato recapito|impossibile recapitare|"
    r"onbestelbaar|niet bezorgd|não entregue|falha na entrega|kunde inte levereras|olevererbar|"
    r"kunne ikke leveres|ikke levert|ei voitu toimittaa|nie dostarczon|niedostarczon|nedoručiteln|nelze doručit|"
    r"не доставлен|недоставлен|не может быть доставлен|ошибка доставки|"
    r"メールエラー|配信できません|配送エラー|不達|届きませんでした|エラー通知|送信できません|"
    r"退信|无法投递|無法投遞|未能送达|投递失败|传输失败|发送失败|系统退信|系統退信|반송|전송 실패)",
    re.I,
)
_BODY = re.compile(
    r"(could not be delivered|couldn't be delivered|can ?not be delivered|undeliverable|was not delivered|"
    r"delivery (to the following recipients?|has) failed|delivery failed|unable to deliver|could not deliver|"
    r"permanent fatal error|permanent error|i'm sorry to have to inform you|this is the mail system at host|"
    r"this is the qmail-send program|created automatically by mail delivery software|failed recipients|"
    r"message could not be delivered|following addresses? had|did not reach (the following|some or all)|"
    r"user unknown|no such user|mailbox unavailable|mailbox is full|recipient address rejected|"
    r"not yet been delivered|delivery is delayed|will be retried|returned to sender|failed recipient|"
    r"error (has occurred )?while attempting to deliver|error delivering your mail|invalid user address|"
    r"unzustellbar|nicht zugestellt|konnte nicht zugestellt|n'a pas pu (être|etre) (remis|delivre)|non remis|"
    r"no se (ha )?pudo entregar|non è stato possibile recapitare|kon niet worden bezorgd|"
    r"não foi possível entregar|не может быть доставлено|не доставлено|"
    r"配信できませんでした|届きませんでした|送信できませんでした|送信に失敗しました|宛先不明|"
    r"无法投递|无法发送|无法送达|退信)",
    re.I,
)
_FAILED_ADDRESS = re.compile(
    r"(could not be delivered|undeliverable|delivery (to the following recipients?|has) failed|unable to deliver)"
    r"[^@]{0,200}@",
    re.I,
)


# --- the returned original -----------------------------------------------------------------------


def _split(body: str) -> tuple[str, str | None]:
    """(the report's own text, the returned copy quoted below it, or None): the copy starts at a line
    that announces it, or at the first block of three or more header lines."""
    marker = _RETURNED_MARK.search(body)
    header = _HEADER_BLOCK.search(body)
    cuts = [(m.start(), m.end()) for m in (marker, header) if m is not None]
    if not cuts:
        return body, None
    start, end = min(cuts)
    return body[:start], body[end if marker is not None and start == marker.start() else start :]


_RETURNED_MARK = re.compile(
    r"^[ \t>|*=_-]*(?:"
    r"-{2,}.*(?:original|returned|undelivered|unsent|rejected) (?:message|mail)"
    r"|.*original message (?:follows|is attached|headers?)"
    r"|.*(?:copy of (?:the |your )?(?:original )?message|message text follows|original mail info)"
    r"|.*(?:text of the original message|start of returned message|returned mail follows)"
    r"|.*(?:unsent message (?:below|follows)|message headers? follows?|headers? of the (?:source|original) mail)"
    r")[^\n]*\n",
    re.I | re.M,
)
_HEADER_NAME = (
    r"(?:received|return-path|message-id|mime-version|dkim-signature|delivered-to|date|from|to|cc|subject|"
    r"content-type|content-transfer-encoding|reply-to|sender|x-[\w-]+)"
)
_HEADER_BLOCK = re.compile(rf"(?im)^(?:From [^\n]*\n)?(?:{_HEADER_NAME}:[^\n]*\n(?:[ \t][^\n]*\n)*){{3,}}")


def _returned(msg: ParsedMessage, quoted: str | None) -> _Returned:
    for part in msg.attachments:
        if part.content_type in _RETURNED_TYPES:
            return _returned_headers(_head(part.read()))
    if quoted is not None:
        return _returned_headers(quoted.encode("utf-8", "replace"))
    return _Returned(False, (), None, (), ())


def _head(payload: bytes) -> bytes:
    """The header block of a returned copy (a part may hold the whole message)."""
    data = normalise(payload[: 256 * 1024]).lstrip(b"\n")
    end = data.find(b"\n\n")
    return data[:end] if end >= 0 else data


def _returned_headers(head: bytes) -> _Returned:
    unfolded = re.sub(r"\n[ \t]+", " ", _text(head))
    ids: list[str] = []
    senders: list[str] = []
    recipients: list[str] = []
    listed = False  # a list's mail: its To names the list, not whom it was delivered to
    subject = None
    for line in unfolded.split("\n"):
        match = _FIELD.match(line.strip())
        if not match:
            continue
        name, value = match.group(1).lower(), match.group(2).strip()
        if name == "message-id":
            ids += [i for i in re.findall(r"<([^<>\s]+)>", value) or [value] if i and i not in ids]
        elif name in ("from", "sender", "reply-to", "return-path"):
            senders += [a for a in (_address_in(x) for x in re.split(r"[,\s]+", value)) if a]
        elif name in ("to", "cc"):
            recipients += [a for a in (_address_in(x) for x in re.split(r"[,\s]+", value)) if a]
        elif name in ("list-id", "list-post"):
            listed = True
        elif name == "subject" and subject is None:
            from ticketctl.engine.mail.mailtext import decode_header

            subject = decode_header(value)[0].strip() or None
    return _Returned(
        True, tuple(ids), subject, tuple(dict.fromkeys(senders)), () if listed else tuple(dict.fromkeys(recipients))
    )


# --- small helpers -------------------------------------------------------------------------------


def _text(data: bytes) -> str:
    return normalise(data).decode("utf-8", "replace")


_ADDRESS_IN = re.compile(r"(?:\"[^\"@\n]+\"|[^\s<>(),;:\"'\[\]]+)@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def _address_in(value: str) -> str | None:
    """The address in `a@b`, `<a@b>`, `"Name" <a@b>`, `rfc822;a@b`, lower-cased; None if none."""
    if not value:
        return None
    match = _ADDRESS_IN.search(value.replace("mailto:", " "))
    if not match:
        return None
    address = match.group(0).strip(".").lower()
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain:
        return None
    return address
