"""The learners in the gradebook: from a roster file, from the cohort site's roster, or as they hand in."""
from __future__ import annotations

from pathlib import Path

from course.grading.course_dir import Course
from course.store.roster import Person, RosterError, read as read_roster


def roster_learners(path: str | Path) -> list[Person]:
    """The learners on a roster file (course/store/roster.py); instructors are left out."""
    try:
        return [person for person in read_roster(path) if person.role == "learner"]
    except RosterError as error:
        raise SystemExit(str(error)) from None


def import_roster(course: Course, learners: list[Person]) -> int:
    """Add or update each learner as an nbgrader student (first/last name split from the display name)."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        for person in learners:
            first, _, last = person.display_name.rpartition(" ")
            if not first:
                first, last = last, ""
            gb.update_or_create_student(person.learner_id, first_name=first or None, last_name=last or None,
                                        email=person.email)
    return len(learners)


def instance_learners(instance: Path) -> list[Person]:
    """The learners on the cohort site's roster (none before the site has a store)."""
    from course.instance import Instance
    from course.store.answers import AnswerStore

    store_location = Instance(instance).store
    if isinstance(store_location, Path) and not store_location.exists():
        return []
    with AnswerStore(store_location) as store:
        return [Person(p.learner_id, p.display_name) for p in store.learners() if p.role == "learner"]


def add_unknown_learners(course: Course, learners: set[str]) -> None:
    """Learners who handed in but are not on the roster, added before the workers start (several workers
    adding the same learner at once would collide on the gradebook's unique key)."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        known = {s.id for s in gb.students}
        for learner in sorted(learners - known):
            gb.add_student(learner)
