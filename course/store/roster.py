"""The roster file: who takes part, as CSV with columns learner_id, display_name and optional role and email.

`python -m course cohort add-learners` puts everyone on it on the cohort site; `python -m course instructor
init --roster` puts its learners in the gradebook. Both read it here, so a bad roster gets the same message
from either, before either changes anything. Ids and names follow the answer store's rules (store.answers).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from course.store.answers import ROLES, check_id, check_name

COLUMNS = ("learner_id", "display_name")  # required; role (blank: learner) and email are optional
MAX_BYTES = 10 * 2**20  # far above any cohort's roster
MAX_PROBLEMS = 10  # shown at once


class RosterError(ValueError):
    """A roster that cannot be used: the message names the file, the lines and what to change."""


@dataclass(frozen=True)
class Person:
    learner_id: str
    display_name: str
    role: str = "learner"
    email: str | None = None


def _person(row: dict, seen: dict[str, int], line: int) -> Person:
    """One row as a Person; ValueError says what is wrong with it."""
    learner = row.get("learner_id", "")
    check_id("learner id", learner)
    if learner in seen:
        raise ValueError(f"learner id {learner!r} is also on line {seen[learner]}")
    name = row.get("display_name", "")
    check_name(name)
    if "<" in name or ">" in name:
        raise ValueError(f"display name {name[:60]!r} contains < or >, which a name does not need")
    role = row.get("role", "").lower() or "learner"
    if role not in ROLES:
        raise ValueError(f"role must be {' or '.join(ROLES)} (or blank for learner); got {role[:60]!r}")
    return Person(learner, name, role, row.get("email") or None)


def read(path: str | Path) -> list[Person]:
    """Everyone on the roster at `path`, in file order. Raises RosterError for a file that cannot be read,
    is empty, lacks a column, or has rows with a bad or repeated id, a bad name or role (all at once)."""
    path = Path(path)
    usage = f"a roster is CSV with the columns {', '.join(COLUMNS)} (and optionally role, email)"
    try:
        if path.stat().st_size > MAX_BYTES:
            raise RosterError(f"{path} is larger than {MAX_BYTES // 2**20} MB: {usage}")
        with open(path, encoding="utf-8-sig", newline="") as fh:  # -sig: spreadsheets' "CSV UTF-8" BOM
            reader = csv.reader(fh)
            header = [name.strip().lower() for name in next(reader, [])]
            rows = [(reader.line_num, cells) for cells in reader]
    except UnicodeDecodeError:
        raise RosterError(f"{path} is not UTF-8 text: save it as CSV UTF-8") from None
    except csv.Error as exc:
        raise RosterError(f"{path} is not readable CSV ({exc}): {usage}") from None
    except OSError as exc:
        raise RosterError(f"cannot read the roster {path}: {exc.strerror}") from None
    if not header:
        raise RosterError(f"{path} is empty: {usage}")
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise RosterError(f"{path} has no {' or '.join(missing)} column (its first line is "
                          f"{','.join(header)[:120]!r}): {usage}")
    people, seen, problems = [], {}, []
    for line, cells in rows:
        row = {column: cell.strip() for column, cell in zip(header, cells)}
        if not any(row.values()):  # a spreadsheet's empty row
            continue
        try:
            people.append(_person(row, seen, line))
            seen[people[-1].learner_id] = line
        except ValueError as exc:
            problems.append(f"  line {line}: {exc}")
    if problems:
        more = f"\n  … and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
        raise RosterError(f"{path}: nothing was added; fix these lines and run again:\n"
                          + "\n".join(problems[:MAX_PROBLEMS]) + more)
    if not people:
        raise RosterError(f"{path} lists no one: {usage}")
    return people
