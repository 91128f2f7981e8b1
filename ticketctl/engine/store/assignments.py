"""The `assignments` table (one per assignment ticket: its student, course and tutor, how far it got)
and its `assignment_steps` (each attempt and each feedback, with the log of the mail that carried it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ticketctl.engine.enums import AssignmentStatus, StepKind
from ticketctl.engine.store.connection import Store, utcnow


@dataclass(frozen=True)
class AssignmentRecord:
    id: int
    ticket_id: int
    course_id: int | None
    student_id: int
    tutor_id: int | None
    status: AssignmentStatus
    submissions: int
    result: str | None
    created_at: str
    updated_at: str
    closed_at: str | None


def _record(row: Any) -> AssignmentRecord:
    return AssignmentRecord(**{**dict(row), "status": AssignmentStatus(row["status"])})


def get(store: Store, assignment_id: int) -> AssignmentRecord | None:
    row = store.one("SELECT * FROM assignments WHERE id = ?", (assignment_id,))
    return _record(row) if row else None


def of_ticket(store: Store, ticket_id: int) -> AssignmentRecord | None:
    row = store.one("SELECT * FROM assignments WHERE ticket_id = ?", (ticket_id,))
    return _record(row) if row else None


def add(store: Store, ticket_id: int, course_id: int, student_id: int, tutor_id: int | None) -> int:
    """A submitted assignment at attempt 1."""
    now = utcnow()
    cur = store.conn.execute(
        "INSERT INTO assignments (ticket_id, course_id, student_id, tutor_id, status, submissions, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, 'submitted', 1, ?, ?)",
        (ticket_id, course_id, student_id, tutor_id, now, now),
    )
    return int(cur.lastrowid or 0)


def advance(store: Store, assignment_id: int, status: AssignmentStatus, submissions: int) -> None:
    store.conn.execute(
        "UPDATE assignments SET status = ?, submissions = ?, updated_at = ? WHERE id = ?",
        (status, submissions, utcnow(), assignment_id),
    )


def close(store: Store, assignment_id: int, result: str) -> None:
    now = utcnow()
    store.conn.execute(
        "UPDATE assignments SET status = 'completed', result = ?, closed_at = ?, updated_at = ? WHERE id = ?",
        (result, now, now, assignment_id),
    )


def add_step(store: Store, assignment_id: int, kind: StepKind, attempt: int, log_id: int, author_id: int | None) -> int:
    cur = store.conn.execute(
        "INSERT INTO assignment_steps (assignment_id, kind, attempt, log_id, author_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (assignment_id, kind, attempt, log_id, author_id, utcnow()),
    )
    return int(cur.lastrowid or 0)


# --- what rules read -------------------------------------------------------------------------


@dataclass(frozen=True)
class Parties:
    """Who writes into an assignment ticket: its student and its tutor (lower-cased addresses)."""

    assignment_id: int
    student: str
    tutor: str | None


def parties(store: Store, ticket_id: int) -> Parties | None:
    row = store.one(
        "SELECT a.id, s.email AS student, t.email AS tutor FROM assignments a JOIN contacts s ON s.id = a.student_id"
        " LEFT JOIN contacts t ON t.id = a.tutor_id WHERE a.ticket_id = ?",
        (ticket_id,),
    )
    return Parties(row["id"], row["student"], row["tutor"]) if row else None


# --- what staff read -------------------------------------------------------------------------


@dataclass(frozen=True)
class AssignmentSummary:
    id: int
    ticket_id: int
    status: str
    submissions: int
    course: str | None  # the course's code
    course_name: str | None
    student: str
    student_name: str
    tutor: str | None
    tutor_name: str | None
    result: str | None
    created_at: str
    updated_at: str
    closed_at: str | None


@dataclass(frozen=True)
class AssignmentQuery:
    """Filters already resolved to ids; every one given must hold."""

    statuses: tuple[str, ...] = ()
    course_id: int | None = None
    tutor_id: int | None = None
    student_id: int | None = None
    contact_id: int | None = None  # as the student or as the tutor


_SUMMARY = (
    "SELECT a.id, a.ticket_id, a.status, a.submissions, co.code AS course, co.name AS course_name,"
    " s.email AS student, s.name AS student_name, tu.email AS tutor, tu.name AS tutor_name, a.result,"
    " a.created_at, a.updated_at, a.closed_at FROM assignments a LEFT JOIN courses co ON co.id = a.course_id"
    " JOIN contacts s ON s.id = a.student_id LEFT JOIN contacts tu ON tu.id = a.tutor_id"
)


def summaries(store: Store, query: AssignmentQuery, limit: int = 50, offset: int = 0) -> list[AssignmentSummary]:
    """Assignments matching `query`, latest activity first."""
    where: list[str] = []
    params: list[Any] = []
    if query.statuses:
        where.append(f"a.status IN ({', '.join('?' for _ in query.statuses)})")
        params.extend(query.statuses)
    for column, value in (("a.course_id", query.course_id), ("a.tutor_id", query.tutor_id),
                          ("a.student_id", query.student_id)):  # fmt: skip
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if query.contact_id is not None:
        where.append("(a.student_id = ? OR a.tutor_id = ?)")
        params += [query.contact_id, query.contact_id]
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = store.query(
        f"{_SUMMARY}{clause} ORDER BY a.updated_at DESC, a.id DESC LIMIT ? OFFSET ?",  # noqa: S608
        [*params, limit, offset],
    )
    return [AssignmentSummary(**dict(r)) for r in rows]


def summary(store: Store, assignment_id: int) -> AssignmentSummary | None:
    row = store.one(f"{_SUMMARY} WHERE a.id = ?", (assignment_id,))  # noqa: S608
    return AssignmentSummary(**dict(row)) if row else None


def summary_of_ticket(store: Store, ticket_id: int) -> AssignmentSummary | None:
    row = store.one(f"{_SUMMARY} WHERE a.ticket_id = ?", (ticket_id,))  # noqa: S608
    return AssignmentSummary(**dict(row)) if row else None


@dataclass(frozen=True)
class Step:
    id: int
    kind: str
    attempt: int
    log_id: int
    author: str | None  # the author's address
    author_name: str | None
    created_at: str


def steps(store: Store, assignment_id: int) -> list[Step]:
    """Every attempt and feedback of an assignment, oldest first."""
    rows = store.query(
        "SELECT st.id, st.kind, st.attempt, st.log_id, c.email AS author, c.name AS author_name, st.created_at"
        " FROM assignment_steps st LEFT JOIN contacts c ON c.id = st.author_id WHERE st.assignment_id = ?"
        " ORDER BY st.id",
        (assignment_id,),
    )
    return [Step(**dict(r)) for r in rows]
