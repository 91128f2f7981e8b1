"""The `canned_responses` table."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ticketctl.engine.store.connection import Store, utcnow


@dataclass(frozen=True)
class CannedResponse:
    id: int
    name: str
    subject: str
    body: str
    created_at: str
    updated_at: str

    def public(self) -> dict[str, Any]:
        return asdict(self)


def get(store: Store, name: str) -> CannedResponse | None:
    row = store.one("SELECT * FROM canned_responses WHERE name = ?", (name,))
    return CannedResponse(**dict(row)) if row else None


def list_all(store: Store) -> list[CannedResponse]:
    return [CannedResponse(**dict(r)) for r in store.query("SELECT * FROM canned_responses ORDER BY name")]


def insert(store: Store, name: str, subject: str, body: str) -> None:
    now = utcnow()
    store.db["canned_responses"].insert(
        {"name": name, "subject": subject, "body": body, "created_at": now, "updated_at": now}
    )


def update(store: Store, canned_id: int, name: str, subject: str, body: str) -> None:
    store.db["canned_responses"].update(
        canned_id, {"name": name, "subject": subject, "body": body, "updated_at": utcnow()}
    )


def delete(store: Store, canned_id: int) -> None:
    store.conn.execute("DELETE FROM canned_responses WHERE id = ?", (canned_id,))
