"""Feedback: nbgrader's feedback generated, released to the exchange for JupyterLab learners and copied to
the cohort site's instance folder for learners there."""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from course.contract import FEEDBACK_FOLDER
from course.grading import state as grading_state
from course.grading.course_dir import Course, api, must_succeed, protect, write_private
from course.lesson import submissions




# What the site adds to nbgrader's feedback page so it meets WCAG 2.1 AA: links told apart from text by an
# underline and at 4.5:1 on its grey panels (white on a cell's blue heading), code comments at 4.5:1, and
# code that wraps instead of running off a narrow window (1.4.10 reflow at 320 px), so that no code block is
# a region that scrolls but cannot be reached by keyboard; and no "¶" link after each heading (nbconvert's,
# which ended every heading's name in "¶").
# A cell's heading is not held to nbgrader's 37 px, which its words overran once they wrapped on a phone; and
# the page sets its width to the device's, so that, sent as a page of its own (course/web/feedback_page.py),
# a phone shows it at its own width rather than a desktop's, scaled down.
FEEDBACK_STYLE = ('<meta name="viewport" content="width=device-width, initial-scale=1">'
                  "<style>a{color:#1f5a8f;text-decoration:underline}div.nbgrader_cell .panel-heading a{color:#fff}"
                  "div.nbgrader_cell .panel-heading{height:auto;min-height:37px;display:flow-root}"
                  ".anchor-link{display:none}h1{font-size:1.8em}"
                  ".highlight .c1,.highlight .c,.highlight .cm{color:#2f6262}"
                  "pre{white-space:pre-wrap;overflow-wrap:anywhere;overflow:visible}"
                  "img{max-width:100%;height:auto}</style>")


# nbgrader's words for its parts, said to the learner who reads them (its feedback template's labels).
LABELS = {">Test cell<": ">Check, marked automatically<", ">Written response<": ">Reflection, marked by a grader<",
          ">Student's answer<": ">Your answer<"}


# nbgrader's head of the page, "<h4>01-why-men-why-now (Score: 8.0 / 10.0)</h4>": a file's name, and a
# fourth-level heading before the page's first.
SCORE_HEAD = r"<h4>[^<(]*\(Score: ([0-9.]+) / ([0-9.]+)\)</h4>"


def _for_the_site(page: str) -> bytes:
    """nbgrader's feedback page for the cohort site: in English (`lang`), titled with the module's own title,
    with FEEDBACK_STYLE, its labels and score in the learner's words (LABELS, SCORE_HEAD), and without its
    script elements (MathJax from a CDN, and the template's own): the site shows it in a sandbox that runs no
    scripts, so they would only reach out."""
    import html
    import re

    page = re.sub(r"<script\b.*?</script\s*>", "", page, flags=re.S | re.I)
    for said, meant in LABELS.items():
        page = page.replace(said, meant)
    page = re.sub(SCORE_HEAD, lambda m: f'<p class="h4">Your score: {float(m[1]):g} of {float(m[2]):g} points</p>',
                  page, count=1)
    if heading := re.search(r"<h1\b[^>]*>(.*?)</h1>", page, flags=re.S | re.I):
        title = html.unescape(re.sub(r"<a\b.*?</a>|<[^>]+>", "", heading[1], flags=re.S)).strip()
        page = re.sub(r"<title>.*?</title>", lambda _: f"<title>Your feedback: {html.escape(title)}</title>", page,
                      count=1, flags=re.S | re.I)
    page = re.sub(r"<html\b(?![^>]*\blang=)", '<html lang="en"', page, count=1, flags=re.I)
    return re.sub(r"</head\s*>", lambda m: FEEDBACK_STYLE + m.group(0), page, count=1, flags=re.I).encode("utf-8")


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
                    page = course.root / "feedback" / learner / module / f"{module}.html"
                    if not page.exists():
                        continue
                    sub = gb.find_submission(module, learner)
                    about = {"module": module, "learner": learner, "score": sub.score,
                             "max_score": sub.max_score,
                             "submitted_at": sub.timestamp.isoformat() + "Z" if sub.timestamp else None,
                             "generated_at": dt.datetime.now(dt.timezone.utc).isoformat()}
                    dest = course.instance / FEEDBACK_FOLDER / learner
                    write_private(dest / f"{module}.html", _for_the_site(page.read_text(encoding="utf-8")),
                                   owner)
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
