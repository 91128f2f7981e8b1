"""IMAP with imapclient: one folder, worked by UID; uids are "UIDVALIDITY/UID" so a reset folder never
matches old ledger rows.

Nothing is marked \\Seen before the pipeline has committed (BODY.PEEK). Disposing deletes only the
messages named: \\Deleted then UID EXPUNGE of those UIDs (UIDPLUS). The flag is set as each batch is
disposed of; the expunges come further apart as a run goes on (`_delete`), and the last before LOGOUT.
A server without UIDPLUS gets the \\Deleted flag only: a plain EXPUNGE (or CLOSE) would also remove
messages other people marked deleted, so we leave the expunge to them and skip \\Deleted messages when
listing. For the same reason the session ends with LOGOUT, never CLOSE.

Each step can be the last a killed run made. Flagged but not expunged: `unfinished` lists the flagged
messages (with UIDPLUS) and `finish` expunges the ones the pipeline found to be ours. Copied to the
processed folder but not yet flagged (a server without MOVE): a message met `again` is looked for in
that folder first and copied only if it is not there, so the folder holds each message once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from ticketctl.engine.config import LimitsConfig
from ticketctl.engine.errors import SourceError, typed
from ticketctl.engine.intake.sources import SPOOL_BYTES, Fetched, SpoolWriter, Waiting
from ticketctl.engine.intake.sources.net import access_token, guarded, login_refused, tls_context
from ticketctl.engine.oauth.tokens import AccessTokenSource
from ticketctl.engine.store.mailboxes import Mailbox
from ticketctl.engine.store.secrets import revealed

DELETED = b"\\Deleted"
CHUNK = 1024 * 1024  # a spooled message is fetched in partial pieces of this size (BODY.PEEK[]<offset.length>)
# A UID EXPUNGE makes the server bring the whole folder's index up to date: one per batch of a long run
# cost Dovecot 1.3-5.3 s of CPU for 5,000 messages, against 0.9-1.1 s with one per run. So the messages
# flagged \Deleted wait to be expunged until they are as many as those expunged before them (the
# first batch goes at once, then 1, 2, 4, ... batches at a time), up to this many.
EXPUNGE_MOST = 2000


class ImapSource:
    def __init__(
        self,
        mailbox: Mailbox,
        limits: LimitsConfig,
        tokens: AccessTokenSource | None,
        *,
        spool_dir: Path | None = None,
    ) -> None:
        self.mailbox = mailbox
        self.limits = limits
        self.spool_dir = spool_dir
        self.folder = mailbox.folder or "INBOX"
        self._sizes: dict[str, int] = {}
        self._processed_exists = False
        self._flagged: list[int] = []  # flagged \Deleted by this session, not yet expunged
        self._expunged = 0
        self.client: Any = _connect(mailbox, limits)
        try:
            self._login(tokens)
            self.uidvalidity = self._select()
            with self._guard("reading the server's capabilities"):
                caps = set(self.client.capabilities())
            self.has_uidplus = b"UIDPLUS" in caps
            self.has_move = b"MOVE" in caps
        except BaseException:
            self.abort()
            raise

    # --- the Source interface ---
    def waiting(self) -> list[Waiting]:
        data: dict[int, Any] = {}
        with self._guard(f"listing folder '{self.folder}'"):
            numbers = sorted(self.client.search(["UNDELETED"]))
            for start in range(0, len(numbers), 500):  # keeps command lines short
                data.update(self.client.fetch(numbers[start : start + 500], ["RFC822.SIZE", "FLAGS"]))
        waiting = []
        for number in numbers:
            item = data.get(number, {})
            if DELETED in item.get(b"FLAGS", ()) or b"RFC822.SIZE" not in item:
                continue
            uid = f"{self.uidvalidity}/{number}"
            self._sizes[uid] = int(item[b"RFC822.SIZE"])
            waiting.append(Waiting(uid, self._sizes[uid]))
        return waiting

    def unfinished(self) -> list[Waiting]:
        """Messages flagged \\Deleted and not expunged: an earlier run of ours may have been cut off
        between the flag and UID EXPUNGE (or another client flagged them). Only with UIDPLUS, which lets
        `finish` expunge exactly the ones that are ours."""
        if not self.has_uidplus:
            return []
        with self._guard(f"listing messages flagged deleted in folder '{self.folder}'"):
            numbers = sorted(self.client.search(["DELETED"]))
            data = self.client.fetch(numbers, ["RFC822.SIZE"]) if numbers else {}
        left = []
        for number in numbers:
            if b"RFC822.SIZE" in data.get(number, {}):
                uid = f"{self.uidvalidity}/{number}"
                self._sizes[uid] = int(data[number][b"RFC822.SIZE"])
                left.append(Waiting(uid, self._sizes[uid]))
        return left

    def finish(self, uids: list[str]) -> None:
        """UID EXPUNGE of these flagged messages: no other client's flagged mail goes with them."""
        if uids:
            with self._guard(f"expunging {len(uids)} message(s) an earlier run had flagged deleted"):
                self.client.expunge([self._number(uid) for uid in uids])

    def fetch(self, uid: str, max_bytes: int) -> Fetched:
        number = self._number(uid)
        size = self._sizes.get(uid)
        if size is None:
            size = int(self._fetch_one(uid, number, ["RFC822.SIZE"])[b"RFC822.SIZE"])
        if size > max_bytes:
            item = self._fetch_one(uid, number, ["BODY.PEEK[HEADER]"])
            return Fetched(uid, size, None, item[b"BODY[HEADER]"])
        if size > SPOOL_BYTES:
            return self._fetch_spooled(uid, number, size)
        raw = self._fetch_one(uid, number, ["BODY.PEEK[]"])[b"BODY[]"]
        return Fetched(uid, len(raw), raw)

    def fetch_many(self, uids: list[str], max_bytes: int) -> list[Fetched]:
        """Whole messages in one UID FETCH (the caller keeps a batch small); one over SPOOL_BYTES or
        `max_bytes` is fetched on its own (spooled, or headers only)."""
        most = min(max_bytes, SPOOL_BYTES)
        whole = {self._number(uid): uid for uid in uids if self._sizes.get(uid, most + 1) <= most}
        if len(whole) < 2:
            return [self.fetch(uid, max_bytes) for uid in uids]
        with self._guard(f"fetching {len(whole)} messages"):
            data = self.client.fetch(sorted(whole), ["BODY.PEEK[]"])
        fetched = []
        for uid in uids:
            number = self._number(uid)
            if number not in whole:
                fetched.append(self.fetch(uid, max_bytes))
                continue
            raw = data.get(number, {}).get(b"BODY[]")
            if raw is None:
                raise self._gone(uid)
            fetched.append(Fetched(uid, len(raw), raw))
        return fetched

    def dispose(self, uid: str) -> None:
        self.dispose_many([uid])

    def dispose_many(self, uids: list[str], again: Collection[str] = ()) -> None:
        """Move (or delete) these messages with one command each, not one per message; those met
        `again` may be in the processed folder already."""
        if not uids:
            return
        numbers = [self._number(uid) for uid in uids]
        what = f"message {uids[0]}" if len(uids) == 1 else f"{len(uids)} messages"
        if self.mailbox.processed_folder:
            self._move(numbers, what, [self._number(uid) for uid in uids if uid in again])
        else:
            self._delete(numbers, what)
        for uid in uids:
            self._sizes.pop(uid, None)

    def set_aside(self, uid: str, again: bool = False) -> None:
        """Move to the processed folder when there is one; otherwise leave it in place."""
        if self.mailbox.processed_folder:
            number = self._number(uid)
            self._move([number], f"message {uid}", [number] if again else [])
            self._sizes.pop(uid, None)

    def close(self) -> None:
        try:
            self._expunge()
            with self._guard("logging out"):
                self.client.logout()
        finally:
            self.abort()

    def abort(self) -> None:
        _drop(self.client)

    # --- steps ---
    def _guard(self, doing: str) -> Any:
        return guarded(self.mailbox, self.limits, doing)

    def _login(self, tokens: AccessTokenSource | None) -> None:
        from imapclient.exceptions import LoginError

        mailbox = self.mailbox
        with self._guard("logging in"):
            try:
                if mailbox.auth == "oauth2":
                    self.client.oauth2_login(mailbox.username, access_token(mailbox, tokens))
                else:
                    self.client.login(mailbox.username, revealed(mailbox.password) or "")
            except LoginError as exc:
                raise login_refused(mailbox, exc) from exc

    def _select(self) -> int:
        from imapclient.exceptions import IMAPClientError

        with self._guard(f"opening folder '{self.folder}'"):
            try:
                info = self.client.select_folder(self.folder)
            except IMAPClientError as exc:
                if not self.client.folder_exists(self.folder):
                    raise SourceError(
                        f"Mailbox '{self.mailbox.name}': the folder '{self.folder}' does not exist; "
                        f"check the name with `ticketctl mailbox edit {typed(self.mailbox.name)} --folder`."
                    ) from exc
                raise
        return int(info[b"UIDVALIDITY"])

    def _number(self, uid: str) -> int:
        validity, _, number = uid.partition("/")
        if validity != str(self.uidvalidity) or not number.isdigit():
            raise SourceError(
                f"Mailbox '{self.mailbox.name}': message {uid} is not in folder '{self.folder}' any more "
                "(the folder was reset or the id is not ours); the next run lists it afresh."
            )
        return int(number)

    def _fetch_one(self, uid: str, number: int, parts: list[str]) -> dict[bytes, Any]:
        with self._guard(f"fetching message {uid}"):
            item = self.client.fetch([number], parts).get(number)
        if not item:
            raise self._gone(uid)
        return dict(item)

    def _gone(self, uid: str) -> SourceError:
        return SourceError(
            f"Mailbox '{self.mailbox.name}': message {uid} is no longer in folder '{self.folder}' "
            "(another client moved or deleted it)."
        )

    def _fetch_spooled(self, uid: str, number: int, size: int) -> Fetched:
        """The message in CHUNK-sized partial fetches straight into a spool file: imaplib and imapclient
        each copy a literal they read, so one whole-message FETCH costs several times its size. It ends
        at an empty piece, or at a short one once RFC822.SIZE is reached (a short piece before that is
        not trusted to be the end)."""
        with SpoolWriter(self.spool_dir) as out:
            while True:
                item = self._fetch_one(uid, number, [f"BODY.PEEK[]<{out.size}.{CHUNK}>"])
                data = next((v for k, v in item.items() if k.startswith(b"BODY[]")), None) or b""
                out.write(data)
                if not data or (len(data) < CHUNK and out.size >= size):
                    break
            spool = out.finish()
        return Fetched(uid, spool.size, None, spool=spool)

    def _delete(self, numbers: list[int], what: str) -> None:
        """Flag the messages \\Deleted now; expunge what this session flagged once it is as many as it
        expunged before (the first time at once), or EXPUNGE_MOST. A run cut off before its expunge
        leaves them flagged: the next one's `unfinished` and `finish` complete the job."""
        with self._guard(f"deleting {what}"):
            self.client.add_flags(numbers, [DELETED], silent=True)
        if self.has_uidplus:
            self._flagged.extend(numbers)
            if len(self._flagged) >= min(max(self._expunged, 1), EXPUNGE_MOST):
                self._expunge()

    def _expunge(self) -> None:
        if self._flagged:
            with self._guard(f"expunging {len(self._flagged)} message(s)"):
                self.client.expunge(self._flagged)  # UID EXPUNGE <set>: these messages only
            self._expunged += len(self._flagged)
            self._flagged = []

    def _move(self, numbers: list[int], what: str, again: list[int]) -> None:
        target = self.mailbox.processed_folder
        assert target, "only with a processed folder"
        with self._guard(f"moving {what} to folder '{target}'"):
            if not self._processed_exists:
                if not self.client.folder_exists(target):
                    self.client.create_folder(target)
                self._processed_exists = True
            if self.has_move:
                self.client.move(numbers, target)  # one step: done, or not begun
                return
            there = self._copied_already(again, target) if again else set()
            if missing := [n for n in numbers if n not in there]:
                self.client.copy(missing, target)
        self._delete(numbers, what)

    def _copied_already(self, numbers: list[int], target: str) -> set[int]:
        """Those of these messages an interrupted run had copied to `target` already: the folder holds
        one with the same header block (searched by its Message-ID, else its Date, else its size)."""
        heads = {n: item[b"BODY[HEADER]"] for n, item in self.client.fetch(numbers, ["BODY.PEEK[HEADER]"]).items()}
        found = set()
        self.client.select_folder(target, readonly=True)
        try:
            for number, head in heads.items():
                hits = self.client.search(_same_message(head, self._sizes.get(f"{self.uidvalidity}/{number}")))
                if hits and any(
                    item.get(b"BODY[HEADER]") == head
                    for item in self.client.fetch(hits, ["BODY.PEEK[HEADER]"]).values()
                ):
                    found.add(number)
        finally:
            info = self.client.select_folder(self.folder)
        if int(info[b"UIDVALIDITY"]) != self.uidvalidity:
            raise SourceError(
                f"Mailbox '{self.mailbox.name}': folder '{self.folder}' was reset while this run worked on it; "
                "the next run lists it afresh."
            )
        return found


IMAPLIB_LOGGER = "imapclient.imaplib"  # where IMAPClient sends imaplib's protocol trace

_FIELDS = [
    (name, re.compile(rb"^" + name.encode() + rb":[ \t]*([^\r\n]*\S)", re.I | re.M)) for name in ("Message-ID", "Date")
]


def _same_message(head: bytes, size: int | None) -> list[Any]:
    """SEARCH criteria that find copies of the message with this header block (of this size)."""
    for name, pattern in _FIELDS:
        found = pattern.search(head)
        if found and found.group(1).isascii() and b'"' not in found.group(1):
            return ["HEADER", name, found.group(1).decode()]
    return ["LARGER", size - 1, "SMALLER", size + 1] if size else ["ALL"]


def _connect(mailbox: Mailbox, limits: LimitsConfig) -> Any:
    from imapclient import IMAPClient, SocketTimeout

    context = tls_context(mailbox) if mailbox.security != "none" else None
    with guarded(mailbox, limits, "connecting", connecting=True):
        client = IMAPClient(
            mailbox.host,
            port=mailbox.port,
            ssl=mailbox.security == "ssl",
            ssl_context=context,
            timeout=SocketTimeout(connect=limits.connect_timeout, read=limits.read_timeout),
        )
    _quiet(client)
    if mailbox.security == "starttls":
        try:
            with guarded(mailbox, limits, "starting TLS", connecting=True):
                if not client.has_capability("STARTTLS"):
                    raise SourceError(
                        f"Mailbox '{mailbox.name}': {mailbox.host}:{mailbox.port} does not offer STARTTLS; "
                        f"use `ticketctl mailbox edit {typed(mailbox.name)} --security ssl --port 993` (the TLS port), "
                        "or check the port."
                    )
                client.starttls(context)
        except BaseException:
            _drop(client)
            raise
    return client


def _quiet(client: Any) -> None:
    """Turn off imaplib's protocol trace unless its logger shows it. IMAPClient sets the trace to its
    most verbose level and routes it to that logger, and imaplib formats every line first: the repr of
    each message it downloads, a copy of the mail in memory, only for the logger to drop it (half of
    the fetch thread's CPU in a 5,000-message run)."""
    if not logging.getLogger(IMAPLIB_LOGGER).isEnabledFor(logging.DEBUG):
        client._imap.debug = 0


def _drop(client: Any) -> None:
    try:
        client.shutdown()
    except Exception:  # noqa: S110 - already gone is fine: we only want the socket closed
        pass
