"""When modules open and are due: nbgrader's due dates in the gradebook, and the cohort site's schedule."""
from __future__ import annotations

import datetime as dt
import json

from course.grading.course_dir import Course, write_private


def parse_when(text: str) -> dt.datetime:
    """A date and time as the instructor writes it ('2025-03-01 17:00', ISO 8601, optional zone; UTC if
    none), as a naive UTC datetime, which is how nbgrader's gradebook keeps them."""
    from nbgrader.utils import parse_utc

    return parse_utc(text)


def duedates(pairs: list[str] | None, flag: str = "--duedate") -> dict[str, dt.datetime]:
    """`MODULE=WHEN` pairs from the command line (`flag` names the option in a message)."""
    found = {}
    for pair in pairs or []:
        module, sep, when = pair.partition("=")
        if not sep:
            raise SystemExit(f"{flag} takes MODULE=WHEN, not {pair!r}")
        found[module.strip()] = parse_when(when.strip())
    return found


def set_schedule(course: Course, opens: dict[str, dt.datetime], due: dict[str, dt.datetime]) -> None:
    """Tell the cohort site when modules open and are due: INSTANCE/schedule.json, private to the instance's
    owner. nbgrader keeps due dates (in the gradebook, which the site never reads) but has no opening date; the
    site's index shows both, and offers the return visit only once it is open."""
    from course.contract import SCHEDULE_FILE

    unknown = sorted((set(opens) | set(due)) - set(course.modules))
    if unknown:
        raise SystemExit(f"unknown modules: {', '.join(unknown)} (modules: {', '.join(course.modules)})")
    if not course.instance or not (opens or due):
        return
    path = course.instance / SCHEDULE_FILE
    try:
        schedule = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        schedule = {}
    for key, dates in (("opens", opens), ("due", due)):
        for module, when in dates.items():
            schedule.setdefault(module, {})[key] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    st = course.instance.stat()
    write_private(path, json.dumps(schedule, indent=1, sort_keys=True).encode("utf-8"), (st.st_uid, st.st_gid))


def set_duedates(course: Course, dates: dict[str, dt.datetime]) -> None:
    from nbgrader.api import Gradebook

    unknown = sorted(set(dates) - set(course.modules))
    if unknown:
        raise SystemExit(f"unknown modules: {', '.join(unknown)} (modules: {', '.join(course.modules)})")
    with Gradebook(course.db_url, course.course_id) as gb:
        for module, when in dates.items():
            gb.update_or_create_assignment(module, duedate=when)
