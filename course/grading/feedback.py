"""Feedback: nbgrader's feedback generated and released to the exchange for JupyterLab learners; for learners
on the cohort site, the course's own page of it (`course.grading.feedback_view`) in the instance folder."""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from course.contract import FEEDBACK_FOLDER
from course.grading import feedback_view
from course.grading import state as grading_state
from course.grading.course_dir import Course, api, must_succeed, protect, write_private
from course.lesson import submissions, timing


def _for_the_site(course: Course, gb, module: str, learner: str) -> bytes:
    """The learner's feedback on `module` as the course's own page (`course.grading.feedback_view`), from
    their autograded notebook, the release notebook and the gradebook's points and comments."""
    notebook = f"{module}.ipynb"
    graded = course.root / "autograded" / learner / module / notebook
    release = course.root / "release" / module / notebook
    submitted = gb.find_submission_notebook(module, module, learner)
    comments = {c.name: c.manual_comment or c.auto_comment or "" for c in submitted.comments}
    marks = {g.name: feedback_view.Mark(None if g.needs_manual_grade else g.score, g.max_score,
                                        comments.get(g.name) or comments.get(g.name.removesuffix("-check"), ""))
             for g in submitted.grades}  # (a check's comment is on its answer cell, m01-q1, not its test's)
    page = feedback_view.page(timing.title(release), json.loads(graded.read_text(encoding="utf-8")),
                              json.loads(release.read_text(encoding="utf-8")), marks, submitted.score,
                              submitted.max_score)
    return page.encode("utf-8")


def _needing_manual_grades(course: Course, module: str) -> list[str]:
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        return sorted(s.student.id for s in gb.find_assignment(module).submissions if s.needs_manual_grade)


def feedback(root: str | Path, modules: list[str] | None = None, log=print) -> dict[str, list[str]]:
    """`nbgrader generate_feedback` for every graded submission, then:
    - `release_feedback` into the exchange for submissions made with `nbgrader submit`, so JupyterLab
      learners fetch it as usual (the Assignments tab, or `nbgrader fetch_feedback`);
    - with a cohort instance, a copy for the website: INSTANCE/feedback/<learner>/<module>.html and a
      <module>.json beside it ({"module", "learner", "score", "max_score", "submitted_at",
      "generated_at"}), private to the instance's owner.
    Returns the learners with feedback, per module."""
    from nbgrader.api import Gradebook

    course = Course.load(root)
    nbg = api(course.root)
    state = grading_state.load(course.grading)
    done = {}
    owner = None
    if course.instance:
        st = course.instance.stat()
        owner = (st.st_uid, st.st_gid)
    for module in modules or course.modules:
        learners = sorted(p.parent.name for p in (course.root / "autograded").glob(f"*/{module}"))
        if not learners:
            done[module] = []
            continue
        pending = _needing_manual_grades(course, module)
        if pending:
            log(f"{module}: {len(pending)} submissions still need manual grading ({', '.join(pending[:5])}"
                f"{', …' if len(pending) > 5 else ''}); their feedback counts ungraded items as 0")
        must_succeed(nbg.generate_feedback(module), f"generate feedback for {module}")
        given = dt.datetime.now(dt.timezone.utc).strftime(submissions.TIMESTAMP_FORMAT)
        for learner in learners:
            state["feedback"].setdefault(grading_state.key(module, learner), given)
        released = 0
        for learner in learners:
            folder = course.root / "feedback" / learner / module
            if (folder / "submission_secret.txt").exists():  # handed in with `nbgrader submit`
                must_succeed(nbg.release_feedback(module, learner),
                             f"release feedback for {learner} {module}")
                released += 1
        if course.instance:
            with Gradebook(course.db_url, course.course_id) as gb:
                for learner in learners:
                    if not (course.root / "feedback" / learner / module / f"{module}.html").exists():
                        continue
                    sub = gb.find_submission(module, learner)
                    about = {"module": module, "learner": learner, "score": sub.score,
                             "max_score": sub.max_score,
                             "submitted_at": sub.timestamp.isoformat() + "Z" if sub.timestamp else None,
                             "generated_at": dt.datetime.now(dt.timezone.utc).isoformat()}
                    dest = course.instance / FEEDBACK_FOLDER / learner
                    write_private(dest / f"{module}.html", _for_the_site(course, gb, module, learner), owner)
                    write_private(dest / f"{module}.json", json.dumps(about).encode(), owner)
                    if owner:
                        for folder in (dest, dest.parent):
                            os.chown(folder, *owner)
        done[module] = learners
        log(f"{module}: feedback for {len(learners)} learners ({released} released to the exchange"
            + (f", {len(learners)} on the cohort site" if course.instance else "") + ")")
    grading_state.save(course.grading, state)
    protect(course)
    return done
