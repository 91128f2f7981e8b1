"""Courses: a code (what students put in subjects), a name, the ticket types its questions and its
assignments go to (the manual's "assign Workflow Engine to Course"), and its enrolments: each student
with their tutor."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ticketctl.engine.admin import csvrows
from ticketctl.engine.admin.contacts import ImportResult, address
from ticketctl.engine.enums import Role, Task
from ticketctl.engine.errors import ConfigError, NotFound
from ticketctl.engine.store import assignments, contacts, courses, types
from ticketctl.engine.store.assignments import AssignmentSummary
from ticketctl.engine.store.connection import Store
from ticketctl.engine.store.courses import Course, Enrolment, NewCourse

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
SHOWN = 50  # assignments `show` lists, newest first


def get(store: Store, code: str) -> Course:
    found = courses.get(store, code)
    if found is None:
        raise NotFound(f"There is no course with the code '{code}'; `ticketctl courses list` shows them.")
    return found


@dataclass(frozen=True)
class CourseRow:
    course: Course
    students: int
    assignments: int


def list_all(store: Store) -> list[CourseRow]:
    counts = courses.counts(store)
    return [CourseRow(c, counts[c.id]["students"], counts[c.id]["assignments"]) for c in courses.list_all(store)]


def add(
    store: Store, code: str, name: str, question_type: str | None = None, assignment_type: str | None = None
) -> Course:
    new = _validate(store, code, name, question_type, assignment_type, own_id=None)
    with store.transaction():
        courses.insert(store, new)
    return get(store, new.code)


def edit(
    store: Store,
    code: str,
    *,
    new_code: str | None = None,
    name: str | None = None,
    question_type: str | None = None,
    assignment_type: str | None = None,
) -> Course:
    """Change a course; what is left as None keeps its value, an empty type name takes the type away."""
    current = get(store, code)
    new = _validate(
        store,
        current.code if new_code is None else new_code,
        current.name if name is None else name,
        current.question_type if question_type is None else question_type,
        current.assignment_type if assignment_type is None else assignment_type,
        own_id=current.id,
    )
    with store.transaction():
        courses.update(store, current.id, new)
    return get(store, new.code)


def _validate(
    store: Store, code: str, name: str, question_type: str | None, assignment_type: str | None, own_id: int | None
) -> NewCourse:
    code, name = code.strip(), name.strip()
    if not _CODE.match(code):
        raise ConfigError(
            f"'{code}' is not a usable course code; use one word of letters, digits, '.', '_' or '-' (up to 32): "
            "students put it in their subjects."
        )
    if not name:
        raise ConfigError(f"Course {code} needs a name; give it with --name.")
    for other, what in (
        (courses.get(store, code), f"the code {code}"),
        (courses.with_name(store, name), f"the name '{name}'"),
    ):
        if other is not None and other.id != own_id:
            raise ConfigError(f"Course {other.code} has {what} already; choose another.")
    return NewCourse(
        code, name, _type_id(store, question_type, Task.QUESTION), _type_id(store, assignment_type, Task.ASSIGNMENT)
    )


def _type_id(store: Store, name: str | None, task: Task) -> int | None:
    if not name:
        return None
    ticket_type = types.named(store, name)
    if ticket_type.task != task:
        raise ConfigError(
            f"Ticket type '{name}' has the task {ticket_type.task}; a course's "
            f"{'questions' if task == Task.QUESTION else 'assignments'} need a type with the task {task}."
        )
    return ticket_type.id


def enrol(store: Store, code: str, student: str, tutor: str, student_name: str = "", tutor_name: str = "") -> Enrolment:
    """Enrol a student in a course with their tutor (enrolling again changes the tutor). Unknown addresses
    become contacts; a plain contact or lead becomes a student, or a tutor."""
    course = get(store, code)
    pair = _pair(student, tutor)
    with store.transaction():
        _enrol(store, course, pair, student_name, tutor_name)
    enrolment = courses.enrolment(store, course.id, pair[0])
    assert enrolment is not None, "just written"
    return enrolment


def _pair(student: str, tutor: str) -> tuple[str, str]:
    pair = address(student, "the student"), address(tutor, "the tutor")
    if pair[0] == pair[1]:
        raise ConfigError(f"{pair[0]} cannot be their own tutor; give another tutor.")
    return pair


def _enrol(store: Store, course: Course, pair: tuple[str, str], student_name: str, tutor_name: str) -> None:
    ids = []
    for email, name, role in ((pair[0], student_name, Role.STUDENT), (pair[1], tutor_name, Role.TUTOR)):
        contact_id = contacts.upsert(store, email, name.strip(), role=role)
        contacts.promote(store, contact_id, role)
        ids.append(contact_id)
    courses.enrol(store, course.id, ids[0], ids[1])


def import_csv(store: Store, path: Path) -> ImportResult:
    """Enrol the students of a CSV file (columns `course`, `student`, `tutor`, and optionally
    `student_name`, `tutor_name`). One bad row and nothing is imported."""
    problems = csvrows.Problems(path)
    rows = csvrows.read(problems, ("course", "student", "tutor"), ("student_name", "tutor_name"))
    wanted: list[tuple[Course, tuple[str, str], csvrows.Row]] = []
    seen: dict[tuple[int, str], int] = {}
    for row in rows:
        course = courses.get(store, row.get("course")) if row.get("course") else None
        if not row.get("course"):
            problems.add(row, "the course is missing")
        elif course is None:
            problems.add(row, f"there is no course with the code '{row.get('course')}'")
        for column in ("student", "tutor"):
            if not row.get(column):
                problems.add(row, f"the {column}'s email is missing")
        if course is None or not row.get("student") or not row.get("tutor"):
            continue
        try:
            pair = _pair(row.get("student"), row.get("tutor"))
        except ConfigError as exc:
            problems.add(row, str(exc).rstrip("."))
            continue
        if (course.id, pair[0]) in seen:
            problems.add(row, f"{pair[0]} is enrolled in {course.code} on line {seen[course.id, pair[0]]} already")
            continue
        seen[course.id, pair[0]] = row.line
        wanted.append((course, pair, row))
    problems.refuse_any()
    added = updated = 0
    with store.transaction():
        for course, pair, row in wanted:
            known = courses.enrolment(store, course.id, pair[0]) is not None
            _enrol(store, course, pair, row.get("student_name"), row.get("tutor_name"))
            updated, added = (updated + 1, added) if known else (updated, added + 1)
    return ImportResult(added, updated)


@dataclass(frozen=True)
class CourseView:
    course: Course
    enrolments: list[Enrolment]
    assignments: list[AssignmentSummary]
    more_assignments: bool


def show(store: Store, code: str) -> CourseView:
    course = get(store, code)
    works = assignments.summaries(store, assignments.AssignmentQuery(course_id=course.id), SHOWN + 1, 0)
    return CourseView(course, courses.enrolments(store, course.id), works[:SHOWN], len(works) > SHOWN)
