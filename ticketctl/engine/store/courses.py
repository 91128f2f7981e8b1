"""The `courses` table (a code, a name, the question and assignment ticket types it uses) and its
`enrolments` (a student in a course, with their tutor)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ticketctl.engine.store.connection import Store

_COURSES = (
    "SELECT c.id, c.code, c.name, c.question_type_id, q.name AS question_type, c.assignment_type_id,"
    " a.name AS assignment_type FROM courses c LEFT JOIN ticket_types q ON q.id = c.question_type_id"
    " LEFT JOIN ticket_types a ON a.id = c.assignment_type_id"
)
_ENROLMENTS = (
    "SELECT e.id, e.course_id, c.code AS course_code, c.name AS course_name, e.student_id, s.email AS student_email,"
    " s.name AS student_name, e.tutor_id, t.email AS tutor_email, t.name AS tutor_name FROM enrolments e"
    " JOIN courses c ON c.id = e.course_id JOIN contacts s ON s.id = e.student_id"
    " LEFT JOIN contacts t ON t.id = e.tutor_id"
)


@dataclass(frozen=True)
class Course:
    id: int
    code: str
    name: str
    question_type_id: int | None
    question_type: str | None
    assignment_type_id: int | None
    assignment_type: str | None


@dataclass(frozen=True)
class NewCourse:
    code: str
    name: str
    question_type_id: int | None
    assignment_type_id: int | None


@dataclass(frozen=True)
class Enrolment:
    id: int
    course_id: int
    course_code: str
    course_name: str
    student_id: int
    student_email: str
    student_name: str
    tutor_id: int | None
    tutor_email: str | None
    tutor_name: str | None


def get(store: Store, code: str) -> Course | None:
    row = store.one(f"{_COURSES} WHERE c.code = ? COLLATE NOCASE", (code.strip(),))  # noqa: S608
    return Course(**dict(row)) if row else None


def get_by_id(store: Store, course_id: int) -> Course | None:
    row = store.one(f"{_COURSES} WHERE c.id = ?", (course_id,))  # noqa: S608
    return Course(**dict(row)) if row else None


def with_name(store: Store, name: str) -> Course | None:
    row = store.one(f"{_COURSES} WHERE c.name = ?", (name,))  # noqa: S608
    return Course(**dict(row)) if row else None


def list_all(store: Store) -> list[Course]:
    return [Course(**dict(r)) for r in store.query(f"{_COURSES} ORDER BY c.code")]  # noqa: S608


def insert(store: Store, course: NewCourse) -> int:
    cur = store.conn.execute(
        "INSERT INTO courses (code, name, question_type_id, assignment_type_id) VALUES (?, ?, ?, ?)",
        (course.code, course.name, course.question_type_id, course.assignment_type_id),
    )
    return int(cur.lastrowid or 0)


def update(store: Store, course_id: int, course: NewCourse) -> None:
    store.conn.execute(
        "UPDATE courses SET code = ?, name = ?, question_type_id = ?, assignment_type_id = ? WHERE id = ?",
        (course.code, course.name, course.question_type_id, course.assignment_type_id, course_id),
    )


def enrol(store: Store, course_id: int, student_id: int, tutor_id: int) -> None:
    """Enrol a student in a course with a tutor; enrolling again changes the tutor."""
    store.conn.execute(
        "INSERT INTO enrolments (course_id, student_id, tutor_id) VALUES (?, ?, ?)"
        " ON CONFLICT(course_id, student_id) DO UPDATE SET tutor_id = excluded.tutor_id",
        (course_id, student_id, tutor_id),
    )


def enrolment(store: Store, course_id: int, student_email: str) -> Enrolment | None:
    row = store.one(f"{_ENROLMENTS} WHERE e.course_id = ? AND s.email = ?", (course_id, student_email))  # noqa: S608
    return Enrolment(**dict(row)) if row else None


def enrolments(store: Store, course_id: int) -> list[Enrolment]:
    rows = store.query(f"{_ENROLMENTS} WHERE e.course_id = ? ORDER BY s.email", (course_id,))  # noqa: S608
    return [Enrolment(**dict(r)) for r in rows]


def enrolments_of(store: Store, contact_id: int) -> list[Enrolment]:
    """A contact's enrolments, as the student or as the tutor."""
    rows = store.query(
        f"{_ENROLMENTS} WHERE e.student_id = ? OR e.tutor_id = ? ORDER BY c.code, s.email",  # noqa: S608
        (contact_id, contact_id),
    )
    return [Enrolment(**dict(r)) for r in rows]


def student_enrolments(store: Store, assignment_type_id: int, email: str) -> list[Enrolment]:
    """The enrolments of the student with this address in courses whose assignments go to this type."""
    rows = store.query(
        f"{_ENROLMENTS} WHERE s.email = ? AND c.assignment_type_id = ? ORDER BY c.code",  # noqa: S608
        (email.strip(), assignment_type_id),
    )
    return [Enrolment(**dict(r)) for r in rows]


def counts(store: Store) -> dict[int, dict[str, Any]]:
    """Per course id: how many students are enrolled and how many assignments it has."""
    rows = store.query(
        "SELECT c.id, (SELECT count(*) FROM enrolments e WHERE e.course_id = c.id) AS students,"
        " (SELECT count(*) FROM assignments a WHERE a.course_id = c.id) AS assignments FROM courses c"
    )
    return {r["id"]: {"students": r["students"], "assignments": r["assignments"]} for r in rows}
