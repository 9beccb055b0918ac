"""Grades: a hand grade set as formgrader sets it; every learner's grade per module read out and exported."""
from __future__ import annotations

import csv
import os
from pathlib import Path

from course.grading import scoring
from course.grading import state as grading_state
from course.grading.course_dir import Course


def set_manual_grade(root: str | Path, module: str, learner: str, grade_id: str, score: float | None,
                     notebook: str | None = None) -> None:
    """Give a hand-graded cell its score, as formgrader's grade form does (it also clears
    needs_manual_grade, which the Gradebook API alone does not)."""
    from nbgrader.api import Gradebook

    course = Course.load(root)
    with Gradebook(course.db_url, course.course_id) as gb:
        grade = gb.find_grade(grade_id, notebook or module, module, learner)
        grade.manual_score = score
        grade.needs_manual_grade = grade.manual_score is None and grade.auto_score is None
        gb.db.commit()


EXPORT_COLUMNS = ["learner_id", "first_name", "last_name", "email", "module", "submitted_at", "duedate",
                  "seconds_late", "raw_score", "late_penalty", "score", "max_score", "late", "autograde_failed",
                  "needs_manual_grade", "answer_cells_changed", "after_feedback", "status"]


def _changed_cells(gb, module: str, learner: str) -> str:
    """The answer cells flagged by course.grading.scoring (their checks scored 0), space-separated."""
    from nbgrader.api import Comment, Notebook, SolutionCell, Student, SubmittedAssignment, SubmittedNotebook
    from nbgrader.api import Assignment

    rows = (gb.db.query(SolutionCell.name).join(Comment, Comment.cell_id == SolutionCell.id)
            .join(SubmittedNotebook, Comment.notebook_id == SubmittedNotebook.id)
            .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
            .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
            .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
            .join(Student, SubmittedAssignment.student_id == Student.id)
            .filter(Assignment.name == module, Student.id == learner,
                    Comment.auto_comment.like(f"{scoring.CHANGED}%")))
    return " ".join(sorted(name for (name,) in rows))


def rows(root: str | Path) -> list[dict]:
    """One row per learner (the roster and anyone who handed in) and module, from the gradebook and what
    autograde and collect recorded: late, autograde failed and needs manual grading each in a column."""
    from nbgrader.api import Gradebook, MissingEntry

    course = Course.load(root)
    state = grading_state.load(course.grading)
    rows = []
    with Gradebook(course.db_url, course.course_id) as gb:
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            for student in sorted(gb.students, key=lambda s: s.id):
                key = grading_state.key(assignment.name, student.id)
                failed = state["graded"].get(key, {}).get("ok") is False
                row = {"learner_id": student.id, "first_name": student.first_name or "",
                       "last_name": student.last_name or "", "email": student.email or "",
                       "module": assignment.name,
                       "duedate": assignment.duedate.isoformat() + "Z" if assignment.duedate else "",
                       "max_score": assignment.max_score, "autograde_failed": failed,
                       "after_feedback": state["after_feedback"].get(key, "")}
                try:
                    sub = gb.find_submission(assignment.name, student.id)
                except MissingEntry:
                    rows.append({**row, "submitted_at": "", "seconds_late": "", "raw_score": 0,
                                 "late_penalty": 0, "score": 0, "late": False, "needs_manual_grade": False,
                                 "answer_cells_changed": "",
                                 "status": "autograde failed" if failed else "missing"})
                    continue
                penalty = sub.late_submission_penalty or 0
                late = sub.total_seconds_late > 0
                manual = bool(sub.needs_manual_grade) and not failed
                rows.append({**row, "submitted_at": sub.timestamp.isoformat() + "Z" if sub.timestamp else "",
                             "seconds_late": sub.total_seconds_late, "raw_score": sub.score,
                             "late_penalty": penalty, "score": sub.score - penalty, "late": late,
                             "needs_manual_grade": manual,
                             "answer_cells_changed": _changed_cells(gb, assignment.name, student.id),
                             "status": "autograde failed" if failed else "needs manual grade" if manual
                             else "late" if late else "graded"})
    return rows


def export(root: str | Path, out: str | Path) -> int:
    """Write the grades as CSV, private to the instructor (0600)."""
    table = rows(root)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(table)
    return len(table)
