"""Health at a glance: is every mailbox being read, is mail going out, does anything wait for a person?

A report is `healthy` when `problems` is empty. Each problem is a sentence naming what to look at:
- a mailbox whose last run(s) failed, that has not been read successfully for `STALE_AFTER`, or (an
  OAuth2 mailbox) has no refresh token; mailboxes no active type reads are not read, so not checked;
- a refresh token older than 90 days minus `WARN_BEFORE`, a client secret expiring within `WARN_BEFORE`;
- failed mails in the queue, pending mails overdue by more than `QUEUE_OVERDUE`, or mails left in
  `sending` by a drain that is gone (outbound/claims.py);
- unresolved bounces;
- secrets stored in the clear by an older version, or sealed with a key that is missing or wrong;
- a broken override in `templates_dir` (then `process` takes no mail in).

`warnings` are set-ups that work but probably not as meant (they do not make the report unhealthy): mail
read from servers while the outbox only writes files, and the default `from_address`; and mail held back
in the queue (outbound/holds.py): held by a rate window (a burst, or a mail loop), or suppressed because
its address bounced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ticketctl.engine.config import Config, OutboxConfig
from ticketctl.engine.errors import TemplateError, TicketctlError, detail
from ticketctl.engine.outbound import claims, templating
from ticketctl.engine.store import bounces, mailboxes, queue, secrets
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.mailboxes import Mailbox

REFRESH_TOKEN_LIFETIME = timedelta(days=90)
WARN_BEFORE = timedelta(days=30)
STALE_AFTER = timedelta(hours=24)
QUEUE_OVERDUE = timedelta(hours=1)


@dataclass(frozen=True)
class MailboxHealth:
    name: str
    kind: str
    auth: str
    last_run_at: str | None
    last_success_at: str | None
    last_error: str | None
    failed_runs: int
    refresh_token_expires_at: str | None
    client_secret_expires_at: str | None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class QueueHealth:
    pending: int
    sending: int
    failed: int
    overdue: int
    oldest_pending_at: str | None
    stuck: int = 0  # `sending`, but the drain that claimed them is gone
    held: int = 0  # kept back by a rate window
    suppressed: int = 0  # kept back: the address bounced
    held_until: str | None = None  # when the first held mail may go


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    checked_at: str
    mailboxes: list[MailboxHealth]
    queue: QueueHealth
    unresolved_bounces: int
    problems: list[str]
    warnings: list[str] = field(default_factory=list)
    not_read: list[str] = field(default_factory=list)  # mailboxes no active ticket type reads


def health(store: Store, config: Config, now: datetime | None = None) -> HealthReport:
    """Check mailboxes, credentials, the email queue and bounces as of `now` (default: the clock)."""
    now = now or datetime.now(UTC)
    read = mailboxes.to_process(store)
    boxes = [_mailbox(store, box, now) for box in read]
    read_ids = {box.id for box in read}
    not_read = [box.name for box in mailboxes.list_all(store) if box.id not in read_ids]
    waiting = _queue(store, now)
    unresolved = bounces.unresolved_count(store)
    problems = [p for box in boxes for p in box.problems]
    if waiting.failed:
        problems.append(f"{waiting.failed} outgoing mail(s) failed for good; look at them with `ticketctl queue list`.")
    if waiting.stuck:
        problems.append(
            f"{waiting.stuck} outgoing mail(s) were left in `sending` by a send that stopped; "
            "the next `ticketctl process` or `ticketctl queue send` sends them."
        )
    if waiting.overdue:
        problems.append(
            f"{waiting.overdue} outgoing mail(s) are overdue by more than {_human(QUEUE_OVERDUE)}; "
            "check that `ticketctl process` runs and the mail server is reachable."
        )
    if unresolved:
        problems.append(f"{unresolved} bounce(s) are unresolved; see `ticketctl bounces list`.")
    problems += _secrets(store)
    try:
        templating.check_overrides(config.templates_dir)
    except TemplateError as exc:
        problems.append(f"{exc} Until then `ticketctl process` takes no mail in.")
    return HealthReport(
        healthy=not problems,
        checked_at=_stamp(now),
        mailboxes=boxes,
        queue=waiting,
        unresolved_bounces=unresolved,
        problems=problems,
        warnings=_warnings(config.outbox, read) + _kept_back(waiting),
        not_read=not_read,
    )


def _warnings(outbox: OutboxConfig, read: list[Mailbox]) -> list[str]:
    found = []
    servers = [box.name for box in read if box.kind != "maildir"]
    if outbox.kind == "directory" and servers:
        found.append(
            f"Mail is read from {', '.join(repr(n) for n in servers)} on a server, but the outbox only "
            f"writes files to {outbox.directory}: nobody receives the notices and replies. Set outbox.kind "
            "to smtp in the configuration (see config.example.yaml)."
        )
    if outbox.from_address == OutboxConfig.from_address:
        found.append(
            f"outbox.from_address is still the default {outbox.from_address}; mail from it is refused or "
            "lost as spam by most servers. Set it to an address of yours in the configuration."
        )
    return found


def _kept_back(waiting: QueueHealth) -> list[str]:
    found = []
    if waiting.held:
        found.append(
            f"{waiting.held} outgoing mail(s) are held back by the rate windows (the first may go at "
            f"{waiting.held_until}); many at once may be a mail loop. `ticketctl queue list --status held` "
            "says why."
        )
    if waiting.suppressed:
        found.append(
            f"{waiting.suppressed} outgoing mail(s) are suppressed because their address bounced; "
            "`ticketctl queue list --status suppressed` names the bounce to resolve."
        )
    return found


def _mailbox(store: Store, box: Mailbox, now: datetime) -> MailboxHealth:
    name = box.name
    last_run = mailboxes.last_run(store, box.id)
    last_error = box.last_error or (last_run.error if last_run and not last_run.ok else None)
    if last_error:  # "Mailbox 'x': ..." says again what the report says already
        last_error = detail(last_error, f"Mailbox {name!r}")
    problems: list[str] = []
    if box.failed_runs:
        problems.append(
            f"Mailbox '{name}' failed its last {box.failed_runs} run(s): {last_error or 'no error recorded'}."
        )
    success = _parse(box.last_success_at)
    if success is None and now - (_parse(box.created_at) or now) > STALE_AFTER:
        problems.append(f"Mailbox '{name}' has never been read successfully; run `ticketctl process`.")
    elif success is not None and now - success > STALE_AFTER:
        problems.append(
            f"Mailbox '{name}' has not been read successfully since {box.last_success_at}; "
            "check that cron runs `ticketctl process`."
        )
    token_expires = None
    if box.auth == "oauth2":
        issued = _parse(box.refresh_token_issued_at)
        if not box.refresh_token or issued is None:
            problems.append(f"Mailbox '{name}' has no OAuth refresh token; complete its OAuth sign-in.")
        else:
            token_expires = issued + REFRESH_TOKEN_LIFETIME
            problems += _expiry(f"The OAuth refresh token of mailbox '{name}'", token_expires, now, "sign in again")
        secret_expires = _parse(box.client_secret_expires_at)
        if secret_expires is not None:
            problems += _expiry(
                f"The client secret of mailbox '{name}'",
                secret_expires,
                now,
                "make a new secret in Azure and set it with `ticketctl mailbox edit`",
            )
    return MailboxHealth(
        name=name,
        kind=box.kind,
        auth=box.auth,
        last_run_at=box.last_run_at,
        last_success_at=box.last_success_at,
        last_error=last_error,
        failed_runs=box.failed_runs,
        refresh_token_expires_at=_stamp(token_expires) if token_expires else None,
        client_secret_expires_at=box.client_secret_expires_at,
        problems=problems,
    )


def _secrets(store: Store) -> list[str]:
    plain, sealed = mailboxes.plain_count(store)
    problems = []
    if plain:
        problems.append(
            f"{plain} secret(s) are stored in the clear by an older version; run `ticketctl init` to seal them."
        )
    if sealed:
        try:
            secrets.keys(store).cipher(create=False)
        except TicketctlError as exc:
            problems.append(str(exc))
    return problems


def _expiry(what: str, expires: datetime, now: datetime, fix: str) -> list[str]:
    if expires <= now:
        return [f"{what} expired on {expires:%Y-%m-%d}; {fix}."]
    if expires - now <= WARN_BEFORE:
        return [f"{what} expires on {expires:%Y-%m-%d}, in {(expires - now).days} day(s); {fix}."]
    return []


def _queue(store: Store, now: datetime) -> QueueHealth:
    counts = queue.counts(store, overdue_before=_stamp(now - QUEUE_OVERDUE))
    return QueueHealth(
        pending=counts.by_status.get("pending", 0),
        sending=counts.by_status.get("sending", 0),
        failed=counts.by_status.get("failed", 0),
        overdue=counts.overdue,
        oldest_pending_at=counts.oldest_pending_at,
        stuck=sum(claims.abandoned(r.claimed_by, r.claimed_at, now) for r in queue.sending(store)),
        held=counts.by_status.get("held", 0),
        suppressed=counts.by_status.get("suppressed", 0),
        held_until=counts.held_until,
    )


def _parse(value: str | None) -> datetime | None:
    """A stored time (ISO, or a bare date) as an aware UTC datetime; None if absent or unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _human(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours} hour(s)"
