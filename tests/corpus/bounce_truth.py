"""What the corpus's sources say every bounce-corpus file is, and the scoring of our reading against it.

Truth, per file of `flufl-bounce/`, `sisimai/` and `php-bounce-handler/` (see each MANIFEST.md and the
corpus README):
- `flufl-bounce/expected.json`: a bounce; the failed addresses and permanent/temporary per detector check.
- `sisimai/expected.json`: the kind (bounce, feedback-report, auto-reply, not-bounce), how many failed
  recipients and their status codes, in order; `same_as` points a CRLF or CR-only copy at its original.
- `sisimai-decoded.json`: Sisimai's own reading (address, status, action per recipient), for the
  addresses where expected.json gives only counts, and for files with no expected entry; an address
  Sisimai names that the file does not contain is no truth (it once drops a digit).
expected.json wins where both speak. A report whose every recipient was delivered (Sisimai's reason
`delivered`) is a success notice, not a failure; feedback (ARF) reports and auto-replies are not
failures either. A file neither source can read (no entry, no Sisimai record) is still a bounce file:
it counts for recognition, with no address truth. So do the bounces among the other sources' mail
(`OTHER_BOUNCES`).

The ordinary mails are every other file of `zammad/` and `cpython-email/`, and `sisimai/messages/not/`:
none may be taken as a bounce.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BOUNCE_SOURCES = ("flufl-bounce", "sisimai", "php-bounce-handler")
FAILURE = "failure"  # a report that delivery failed or is delayed
NOT_FAILURE_KINDS = ("feedback-report", "auto-reply", "not-bounce", "delivered")
_NOT_FAILED = ("feedback", "vacation", "delivered")


@dataclass(frozen=True)
class Truth:
    path: str  # relative to the corpus
    kind: str  # FAILURE or one of NOT_FAILURE_KINDS
    addresses: dict[str, str] | None  # failed address (lower-case) -> "permanent" / "temporary"; None: unknown
    source: str  # where the truth comes from


@dataclass(frozen=True)
class _Sources:
    corpus: Path
    expected: dict[str, Any]  # of the source being read
    decoded: dict[str, list[dict[str, str]]]


def _cls(status: str, action: str = "") -> str | None:
    if status[:1] == "5":
        return "permanent"
    if status[:1] == "4" or action == "delayed":
        return "temporary"
    return None


def load(corpus: Path) -> dict[str, Truth]:
    """The truth for every file of the bounce sources, by path relative to the corpus."""
    decoded = json.loads((corpus / "sisimai-decoded.json").read_text())
    readers = {"flufl-bounce": _flufl, "sisimai": _sisimai, "php-bounce-handler": _php}
    truths: dict[str, Truth] = {}
    for source in BOUNCE_SOURCES:
        messages = corpus / source / "messages"
        expected_file = corpus / source / "expected.json"
        sources = _Sources(corpus, json.loads(expected_file.read_text()) if expected_file.is_file() else {}, decoded)
        for path in sorted(p for p in messages.rglob("*") if p.is_file()):
            rel = path.relative_to(messages).as_posix()
            key = f"{source}/messages/{rel}"
            truths[key] = readers[source](sources, key, rel)
    for key in OTHER_BOUNCES:
        truths[key] = Truth(key, FAILURE, None, "read by hand: a delivery status notification")
    return truths


def _in_file(corpus: Path, key: str, addresses: list[str]) -> bool:
    """Whether every address occurs in the file as a whole address."""
    raw = (corpus / key).read_bytes().lower()
    return all(
        re.search(rb"(?<![a-z0-9._%+-])" + re.escape(a.lower().encode()) + rb"(?![a-z0-9-])", raw) for a in addresses
    )


def _from_decoded(src: _Sources, key: str) -> Truth:
    records = src.decoded.get(key, [])
    failed = [r for r in records if r["reason"] not in _NOT_FAILED]
    if failed:
        if not _in_file(src.corpus, key, [r["recipient"] for r in failed]):
            return Truth(key, FAILURE, None, "sisimai-decoded.json: an address the file does not contain")
        addresses = {r["recipient"].lower(): _cls(r["status"], r["action"]) or "permanent" for r in failed}
        return Truth(key, FAILURE, addresses, "sisimai-decoded.json")
    reasons = {r["reason"] for r in records}
    for kind, reason in (("feedback-report", "feedback"), ("auto-reply", "vacation"), ("delivered", "delivered")):
        if reasons == {reason}:
            return Truth(key, kind, {}, "sisimai-decoded.json")
    return Truth(key, FAILURE, None, "no reading: a bounce file neither source decodes")


def _flufl(src: _Sources, key: str, rel: str) -> Truth:
    entry = src.expected.get(rel)
    if entry is None:
        return _from_decoded(src, key)
    addresses: dict[str, str] = {}
    for check in entry["checks"]:
        for address in check["addresses"]:
            if check["failure_class"] in ("permanent", "temporary"):  # "any": the check does not say
                addresses[address.lower()] = check["failure_class"]
    for address in entry["bounced_addresses"]:
        addresses.setdefault(address.lower(), entry["failure_class"])
    return Truth(key, FAILURE, addresses, "flufl-bounce/expected.json")


def _sisimai(src: _Sources, key: str, rel: str) -> Truth:
    entry = src.expected.get(rel)
    if entry is not None and "same_as" in entry:
        twin = _sisimai(src, f"sisimai/messages/{entry['same_as']}", entry["same_as"])
        return Truth(key, twin.kind, twin.addresses, twin.source + " (same_as)")
    if entry is None:
        return _from_decoded(src, key)
    if entry["message_kind"] != "bounce":
        return Truth(key, entry["message_kind"], {}, "sisimai/expected.json")
    rows = entry["recipients"]
    if all(r["reason"] == "delivered" for r in rows):
        return Truth(key, "delivered", {}, "sisimai/expected.json")
    failed = [r for r in src.decoded.get(key, []) if r["reason"] not in _NOT_FAILED]
    if len(failed) != len(rows):  # the addresses cannot be told: keep the kind, no address truth
        return Truth(key, FAILURE, None, "sisimai/expected.json (count only)")
    if not _in_file(src.corpus, key, [r["recipient"] for r in failed]):
        return Truth(key, FAILURE, None, "sisimai-decoded.json: an address the file does not contain")
    addresses = {
        r["recipient"].lower(): _cls(row["status"]) or _cls(r["status"], r["action"]) or "permanent"
        for r, row in zip(failed, rows, strict=True)
    }
    return Truth(key, FAILURE, addresses, "sisimai/expected.json + sisimai-decoded.json")


def _php(src: _Sources, key: str, rel: str) -> Truth:
    if rel.startswith(("arf", "fbl-")) or rel == "hotmailbounce.txt":  # feedback loops (the MANIFEST)
        return Truth(key, "feedback-report", {}, "php-bounce-handler/MANIFEST.md")
    if rel == "unsubscribe.txt":  # a web form's log with a forwarded mail, no report
        return Truth(key, "not-bounce", {}, "read by hand: a log dump, not a report")
    return _from_decoded(src, key)


# Bounces among the other sources' mail, found by reading them (each is a multipart/report with a
# delivery-status part): they count for recognition, with no address truth.
OTHER_BOUNCES = tuple(
    [f"zammad/messages/{f}" for f in ("mail018.box", "mail033-undelivered-mail-returned-to-sender.box", "mail053.box",
                                      "mail055.box", "mail063.box", "mail078.box")]
    + [f"cpython-email/messages/{f}" for f in ("msg_16.txt", "msg_25.txt", "msg_43.txt")]
)  # fmt: skip


def ordinary_mails(corpus: Path) -> list[str]:
    """Every corpus file that is ordinary mail: no bounce and no report."""
    found = [p.relative_to(corpus).as_posix() for p in corpus.glob("*/messages/**/*") if p.is_file()]
    ordinary = ("zammad/", "cpython-email/", "sisimai/messages/not/")
    return sorted(f for f in found if f.startswith(ordinary) and f not in OTHER_BOUNCES)


# --- scoring -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """What we made of one file: taken as a bounce or not, and the failed addresses with their class."""

    bounce: bool
    addresses: dict[str, str]  # address -> "permanent" / "temporary"
    originals: dict[str, str] = field(default_factory=dict)  # address -> the address the mail was sent to


@dataclass
class Score:
    files: int = 0  # bounce files (failures)
    recognised: int = 0
    expected_addresses: int = 0
    found_addresses: int = 0  # in files with address truth
    right_addresses: int = 0
    right_class: int = 0
    not_failures: int = 0
    not_failures_recorded: int = 0  # reports that are no failure, yet recorded with failed addresses
    misses: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def recognised_share(self) -> float:
        return self.recognised / self.files if self.files else 1.0

    @property
    def recall(self) -> float:
        return self.right_addresses / self.expected_addresses if self.expected_addresses else 1.0

    @property
    def precision(self) -> float:
        return self.right_addresses / self.found_addresses if self.found_addresses else 1.0

    @property
    def class_share(self) -> float:
        return self.right_class / self.right_addresses if self.right_addresses else 1.0

    def line(self, name: str) -> str:
        return (
            f"{name}: recognised {self.recognised}/{self.files} = {self.recognised_share:.1%}; addresses recall "
            f"{self.right_addresses}/{self.expected_addresses} = {self.recall:.1%}, precision "
            f"{self.right_addresses}/{self.found_addresses} = {self.precision:.1%}; permanent/temporary right "
            f"{self.right_class}/{self.right_addresses} = {self.class_share:.1%}; reports that are no failure "
            f"recorded as failures: {self.not_failures_recorded}/{self.not_failures}"
        )


def score(truths: dict[str, Truth], read: Callable[[str], Reading]) -> dict[str, Score]:
    """Scores per source and for all of them (key "all")."""
    scores = {name: Score() for name in (*BOUNCE_SOURCES, "other", "all")}
    for key, truth in truths.items():
        reading = read(key)
        group = key.split("/", 1)[0]
        for s in (scores[group if group in scores else "other"], scores["all"]):
            _count(s, key, truth, reading)
    return scores


def _count(s: Score, key: str, truth: Truth, reading: Reading) -> None:
    if truth.kind != FAILURE:
        s.not_failures += 1
        if reading.addresses:
            s.not_failures_recorded += 1
            s.wrong.append(f"{key}: a {truth.kind}, recorded as failures of {sorted(reading.addresses)}")
        return
    s.files += 1
    if reading.bounce:
        s.recognised += 1
    else:
        s.misses.append(f"{key}: not taken as a bounce")
    if truth.addresses is None:
        return
    s.expected_addresses += len(truth.addresses)
    s.found_addresses += len(reading.addresses)
    for found, cls in reading.addresses.items():
        original = reading.originals.get(found)
        # a source names the address that failed (Final-Recipient) or the one the mail was sent to
        address = original if found not in truth.addresses and original in truth.addresses else found
        if address in truth.addresses:
            s.right_addresses += 1
            if truth.addresses[address] == cls:
                s.right_class += 1
            else:
                s.wrong.append(f"{key}: {address} read as {cls}, is {truth.addresses[address]}")
        else:
            s.wrong.append(f"{key}: {address} did not fail (expected {sorted(truth.addresses)})")
    named = set(reading.addresses) | set(reading.originals.values())
    for address in truth.addresses:
        if address not in named:
            s.misses.append(f"{key}: {address} not found")
