"""The cohort dashboard for instructors: what a cohort has done on the course website, as counts.

Six views, each a chart with alt text and a table: completion by module, knowledge-check item analysis
(correct letters read from `solutions/`), the self-assessment shift from the Orientation to Module 6, how
many words learners wrote in each reflection, and Module 7's follow-through (who came back; commitments
marked done, partly or not yet, by kind of action) and self-assessment looked back on ("then" against the
Orientation, "now" against "then"). The self-assessment's and Module 7's figures show only for groups of at
least MIN_GROUP learners.

Only counts leave this package. A reflection is read to count its words and is never kept, shown or
exported; no learner is named. People whose role is "instructor" are not counted; learners who have
answered nothing are.

One job a module:

| module | job |
|---|---|
| `spec` | what the course asks: items, checks and their correct letters, reflections (from `solutions/`) |
| `aggregate` | the counts, in SQL: a few GROUP BY queries in the answer store over every module at once |
| `report` | the rows of the views, and the report that holds them |
| `formatting` | each view as a table of text, and as accessible HTML |
| `drawing` | each view as a chart with alt text |
| `export` | the charts as PNG files with their alt text |
| `page` | the page an instructor sees (ipywidgets) |
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from course.web.dashboard.aggregate import collect as _collect
from course.web.dashboard.drawing import VIEWS, draw
from course.web.dashboard.export import EXPORT_FOLDER, export_png
from course.web.dashboard.formatting import table_html, tables
from course.web.dashboard.page import show
from course.web.dashboard.report import (AFTER, BEFORE, MIN_GROUP, CheckRow, CommitmentRow, CompletionRow,
                                         FollowThrough, LookingBack, Report, ShiftRow, WordRow)
from course.web.dashboard.spec import Check, ModuleSpec, Statement, course_spec, course_statements

__all__ = ["Check", "ModuleSpec", "Statement", "CompletionRow", "CheckRow", "ShiftRow", "WordRow", "Report",
           "FollowThrough", "CommitmentRow", "LookingBack",
           "course_spec", "statements", "collect", "build", "tables", "table_html", "draw", "export_png", "show",
           "BEFORE", "AFTER", "EXPORT_FOLDER", "MIN_GROUP", "VIEWS"]


def statements() -> list[Statement]:
    """The self-assessment's statements and answer levels, as `course.lesson.self_assessment` defines them."""
    return course_statements()


def collect(store, spec: list[ModuleSpec], now: dt.datetime | None = None) -> Report:
    """Count what the learners on `store`'s roster have done in each module of `spec`."""
    return _collect(store, spec, statements(), MIN_GROUP, now)


def build(store_path: str | os.PathLike[str], solutions: Path | None = None) -> Report:
    """The report for the cohort whose answer store is at `store_path`."""
    from course.store.answers import AnswerStore

    with AnswerStore(store_path) as store:
        return collect(store, course_spec(solutions))
