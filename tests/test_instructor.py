"""The instructor's side end to end, with real nbgrader: 30 simulated learners hand in Module 1 by every path
(15 with `nbgrader submit` from JupyterLab, 10 as uploaded files, 5 from the cohort site's Submit button,
written by `course.lesson.submissions.to_exchange` exactly as the site writes them); then `python -m course
instructor` init, collect, autograde (in parallel), manual grades through the Gradebook API, feedback (the
exchange for JupyterLab, the instance folder for the site) and export. Every score is checked against the
answers each learner gave, and parallel grading against nbgrader's own serial `autograde`."""
import csv
import datetime as dt
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook
from traitlets.config import Config

from conftest import ROOT, correct_answers
from course.grading import course_dir, grades
from course.grading.settings import COURSE_ID
from course.instance import Instance
from course.lesson.submissions import TIMESTAMP_FORMAT, fill, to_exchange

MODULE = "01-why-men-why-now"
NBGRADER = str(Path(sys.executable).parent / "nbgrader")
LAB = [f"lab-{n:02d}" for n in range(1, 16)]          # nbgrader submit from JupyterLab
UPLOAD = [f"upload-{n:02d}" for n in range(1, 11)]    # files uploaded to the facilitator
COHORT = [f"cohort-{n:02d}" for n in range(1, 6)]     # the cohort site's Submit button
LEARNERS = LAB + UPLOAD + COHORT
MANUAL = {"m01-r1": 2, "m01-r2": 3}
DUE = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=1)
LATE = "cohort-05"


RIGHT = correct_answers(MODULE, checks_only=True)
CHECKS = sorted(RIGHT)


def answers(learner: str, wrong_first: bool = False) -> dict[str, str]:
    """A learner's answers, different for each: check k is right unless bit k of the learner's number is
    set. Every third learner leaves the reflections untouched; the others write them."""
    n = LEARNERS.index(learner) + 1
    given = {}
    for k, q in enumerate(CHECKS):
        wrong = wrong_first or (n >> k) & 1
        given[q] = next(x for x in "abcd" if x != RIGHT[q]) if wrong else RIGHT[q]
    if n % 3:
        given.update({
            "m01-r1": f"{learner}: three senior men chose the lead; I will ask who else did the work.",
            "m01-r2": f"{learner}: learning; I pair new joiners with reviewers and call out interruptions."})
    return given


def graded_by_hand(learner: str) -> bool:
    return LEARNERS.index(learner) % 3 == 0  # numbers 1, 4, 7, …: reflections written and given a grade


def expected(learner: str) -> dict:
    given = answers(learner)
    auto = sum(given[q] == RIGHT[q] for q in CHECKS)
    wrote = "m01-r1" in given
    manual = sum(MANUAL.values()) if wrote and graded_by_hand(learner) else 0
    return {"auto": auto, "score": auto + manual, "needs_manual_grade": wrote and not graded_by_hand(learner),
            "late": learner == LATE}


def cli(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "course", "instructor", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def lab_config(home: Path, learner: str, exchange: Path) -> Config:
    """What a JupyterLab learner's nbgrader uses: their own folder, cache and the course's exchange."""
    c = Config()
    c.CourseDirectory.root = str(home)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.assignment_id = MODULE
    c.CourseDirectory.student_id = learner
    c.Exchange.root = str(exchange)
    c.Exchange.cache = str(home / ".nbgrader-cache")
    c.Exchange.assignment_dir = str(home)
    return c


def nbgrader_submit(home: Path, learner: str, exchange: Path, nb: dict) -> None:
    """`nbgrader submit` as the learner would run it (the same exchange code, in this process)."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeSubmit

    (home / MODULE).mkdir(parents=True, exist_ok=True)
    (home / MODULE / f"{MODULE}.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    c = lab_config(home, learner, exchange)
    ExchangeSubmit(coursedir=CourseDirectory(config=c), authenticator=Authenticator(config=c),
                   config=c).start()


def nbgrader_fetch_feedback(home: Path, learner: str, exchange: Path) -> list[Path]:
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeFetchFeedback

    c = lab_config(home, learner, exchange)
    ExchangeFetchFeedback(coursedir=CourseDirectory(config=c), authenticator=Authenticator(config=c),
                          config=c).start()
    return sorted((home / MODULE / "feedback").glob(f"*/{MODULE}.html"))


def upload(folder: Path, learner: str, nb: dict, when: dt.datetime) -> None:
    path = folder / learner / f"{MODULE}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    os.utime(path, (when.timestamp(), when.timestamp()))


def grades_of(root: Path, learners) -> dict:
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        return {learner: {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade)
                          for nb in gb.find_submission(MODULE, learner).notebooks for g in nb.grades}
                for learner in learners}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    base = tmp_path_factory.mktemp("instructor")
    root, homes, uploads = base / "course", base / "homes", [base / "uploads-1", base / "uploads-2"]
    instance = Instance(base / "instance")
    roster = base / "roster.csv"
    with open(roster, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["learner_id", "display_name", "role", "email"])
        out.writerows([[learner, f"Learner {learner.title()}", "learner", f"{learner}@example.org"]
                       for learner in LEARNERS])
        out.writerow(["ines", "Inés Ruiz", "instructor", ""])
    init_log = cli("init", str(root), "--roster", str(roster), "--instance", str(instance.root),
                   "--module", MODULE, "--duedate", f"{MODULE}={DUE:%Y-%m-%d %H:%M:%S} UTC",
                   "--opens", f"{MODULE}=2025-04-04 09:00 UTC")
    release = json.loads((root / "release" / MODULE / f"{MODULE}.ipynb").read_text(encoding="utf-8"))
    exchange = instance.exchange
    now = dt.datetime.now(dt.timezone.utc)

    for learner in LAB:  # lab-02 hands in twice: a first try with every check wrong, then the real one
        if learner == "lab-02":
            first = fill(release, answers(learner, wrong_first=True))
            nbgrader_submit(homes / learner, learner, exchange, first)
        nbgrader_submit(homes / learner, learner, exchange, fill(release, answers(learner)))
    # upload-02 uploads again later (all wrong at first); upload-03 sends the same file again
    for learner in UPLOAD:
        first = answers(learner, wrong_first=True) if learner == "upload-02" else answers(learner)
        upload(uploads[0], learner, fill(release, first), now - dt.timedelta(hours=2))
    upload(uploads[1], "upload-02", fill(release, answers("upload-02")), now - dt.timedelta(hours=1))
    shutil.copytree(uploads[0] / "upload-03", uploads[1] / "upload-03", copy_function=shutil.copy2)
    # As the site's Submit button does; cohort-02 submits twice; cohort-05 after the due date.
    for learner in COHORT:
        if learner == "cohort-02":
            first = fill(release, answers(learner, wrong_first=True))
            to_exchange(exchange, COURSE_ID, learner, MODULE, first, when=now - dt.timedelta(minutes=30))
        when = DUE + dt.timedelta(hours=1) if learner == LATE else now
        to_exchange(exchange, COURSE_ID, learner, MODULE, fill(release, answers(learner)), when=when)

    collect_logs = [cli("collect", str(root), "--uploads", str(uploads[0]))]
    collect_logs.append(cli("collect", str(root), "--uploads", str(uploads[1])))
    autograde_log = cli("autograde", str(root), "--jobs", "2")
    parallel = grades_of(root, LEARNERS)

    # nbgrader's own serial autograde of a sample (one learner from each path) must agree exactly.
    sample = ["lab-01", "upload-01", "cohort-01"]
    serial = subprocess.run([NBGRADER, "autograde", MODULE, "--force", "--student=*-01"], cwd=root,
                            capture_output=True, text=True, timeout=600)
    assert serial.returncode == 0, serial.stderr
    serially = {learner for learner in sample if f"autograded/{learner}/{MODULE}" in serial.stderr}
    serial_grades = grades_of(root, sample)

    for learner in LEARNERS:  # a grader's marks for the reflections, as formgrader saves them
        if graded_by_hand(learner) and "m01-r1" in answers(learner):
            for grade_id, points in MANUAL.items():
                grades.set_manual_grade(root, MODULE, learner, grade_id, points)
    feedback_log = cli("feedback", str(root))
    cli("export", str(root), "--out", str(base / "grades.csv"))
    with open(base / "grades.csv", encoding="utf-8", newline="") as fh:
        exported = {row["learner_id"]: row for row in csv.DictReader(fh)}
    return {"root": root, "base": base, "homes": homes, "instance": instance, "exchange": exchange,
            "init_log": init_log, "collect_logs": collect_logs, "autograde_log": autograde_log,
            "parallel": parallel, "serial": serial_grades, "serially": serially, "sample": sample,
            "feedback_log": feedback_log, "exported": exported}


def test_init_writes_an_nbgrader_config_that_nbgrader_itself_loads(course):
    # A broken nbgrader_config.py only logs an error: ask nbgrader's own command line what it sees.
    shown = subprocess.run([NBGRADER, "list", "--inbound"], cwd=course["root"], capture_output=True,
                           text=True, timeout=300)
    assert shown.returncode == 0 and "ERROR" not in shown.stderr, shown.stderr
    # Exchange.root points at the cohort instance's exchange, so the site's submissions are listed.
    assert f"{COURSE_ID} cohort-01 {MODULE}" in shown.stdout + shown.stderr
    cfg = course_dir.load_config(course["root"])
    assert cfg.Exchange.root == str(course["exchange"]) and cfg.ExchangeCollect.check_owner is False
    assert cfg.Execute.kernel_name == "allies-grader"


def test_init_imports_the_roster_but_not_the_instructors(course):
    with Gradebook(f"sqlite:///{course['root'] / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        students = {s.id: s for s in gb.students}
        assert set(students) == set(LEARNERS)
        assert (students["lab-03"].first_name, students["lab-03"].last_name) == ("Learner", "Lab-03")
        assert students["lab-03"].email == "lab-03@example.org"
        assert gb.find_assignment(MODULE).duedate == DUE.replace(tzinfo=None)


def test_init_tells_the_cohort_site_when_a_module_opens_and_is_due(course):
    schedule = json.loads((course["instance"].root / "schedule.json").read_text(encoding="utf-8"))
    assert schedule == {MODULE: {"opens": "2025-04-04T09:00:00Z", "due": f"{DUE:%Y-%m-%dT%H:%M:%S}Z"}}


def test_init_checks_the_grading_sandbox(course):
    assert "sandbox check:" in course["init_log"]
    if os.geteuid() == 0:
        assert "reads_gradebook=False" in course["init_log"] and "uid=0" not in course["init_log"]


def test_the_gradebook_and_course_directory_are_private(course):
    assert oct((course["root"] / "gradebook.db").stat().st_mode & 0o777) == "0o600"
    for step in ("source", "submitted", "autograded", "feedback"):
        assert (course["root"] / step).stat().st_mode & 0o077 == 0


def test_collect_gathers_every_path_into_one_submitted_tree(course):
    submitted = course["root"] / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == sorted(LEARNERS)
    for learner in LEARNERS:
        assert (submitted / learner / MODULE / f"{MODULE}.ipynb").is_file()
        assert (submitted / learner / MODULE / "timestamp.txt").is_file()


def test_the_latest_submission_wins_and_every_submission_stays_in_the_exchange(course):
    inbound = course["exchange"] / COURSE_ID / "inbound"
    for learner in ("lab-02", "upload-02", "cohort-02"):
        kept = sorted(inbound.glob(f"{learner}+{MODULE}+*"))
        assert len(kept) == 2, learner
        latest = max(kept, key=lambda p: (p / "timestamp.txt").read_text(encoding="utf-8"))
        collected = course["root"] / "submitted" / learner / MODULE / "timestamp.txt"
        assert collected.read_text(encoding="utf-8") == (latest / "timestamp.txt").read_text(encoding="utf-8")
    assert len(list(inbound.glob(f"upload-03+{MODULE}+*"))) == 1  # the same file sent twice counts once


def test_an_upload_is_handed_in_at_its_files_time(course):
    stamp = (course["root"] / "submitted" / "upload-05" / MODULE / "timestamp.txt").read_text("utf-8")
    when = dt.datetime.strptime(stamp.replace(" UTC", ""), TIMESTAMP_FORMAT.replace(" %Z", ""))
    assert abs(dt.datetime.now() - when - dt.timedelta(hours=2)) < dt.timedelta(minutes=30)


def test_every_collected_submission_is_autograded(course):
    assert "autograded 30 of 30 submissions" in course["autograde_log"]


@pytest.mark.parametrize("learner", LEARNERS)
def test_every_learner_gets_the_score_their_answers_earn(course, learner):
    row, want = course["exported"][learner], expected(learner)
    assert float(row["score"]) == want["score"]
    assert float(row["max_score"]) == 10
    assert (row["needs_manual_grade"] == "True") == want["needs_manual_grade"]
    checks = [course["parallel"][learner][f"{q}-check"][0] for q in CHECKS]
    assert sum(checks) == want["auto"]


def test_parallel_grading_matches_nbgraders_serial_autograde(course):
    assert course["serially"] == set(course["sample"])  # nbgrader regraded each of them itself
    for learner in course["sample"]:
        assert course["serial"][learner] == course["parallel"][learner], learner


def test_untouched_reflections_score_zero_and_written_ones_wait_for_a_grader(course):
    cells = course["parallel"]
    untouched = next(x for x in LEARNERS if "m01-r1" not in answers(x))
    assert cells[untouched]["m01-r1"] == (0, None, False)
    written = next(x for x in LEARNERS if not graded_by_hand(x) and "m01-r1" in answers(x))
    assert cells[written]["m01-r1"] == (None, None, True)


def test_manual_grades_clear_the_flag_as_formgrader_does(course):
    learner = next(x for x in LEARNERS if graded_by_hand(x) and "m01-r1" in answers(x))
    grades = grades_of(course["root"], [learner])[learner]
    assert grades["m01-r1"] == (None, 2, False) and grades["m01-r2"] == (None, 3, False)


def test_late_work_is_flagged_with_the_modules_due_date(course):
    rows = course["exported"]
    assert float(rows[LATE]["seconds_late"]) > 3000 and rows[LATE]["status"] in ("late", "needs manual grade")
    assert all(float(rows[x]["seconds_late"]) == 0 for x in LEARNERS if x != LATE)
    assert float(rows[LATE]["late_penalty"]) == 0  # penalty_method "none": flagged, not docked


def test_feedback_is_released_to_jupyterlab_learners_through_the_exchange(course):
    learner = "lab-04"
    pages = nbgrader_fetch_feedback(course["homes"] / learner, learner, course["exchange"])
    assert pages, "nbgrader fetch_feedback found nothing"
    text = html.unescape(re.sub(r"<[^>]+>", "", pages[-1].read_text(encoding="utf-8")))
    assert f"{MODULE} (Score: {expected(learner)['score']:.1f} / 10.0)" in text


@pytest.mark.parametrize("learner", ["cohort-01", "upload-01", "lab-01"])
def test_feedback_for_the_cohort_site_is_one_private_file_per_learner(course, learner):
    folder = course["instance"].root / "feedback" / learner
    page = (folder / f"{MODULE}.html").read_text(encoding="utf-8")
    about = json.loads((folder / f"{MODULE}.json").read_text(encoding="utf-8"))
    assert about["score"] == expected(learner)["score"] and about["max_score"] == 10
    assert (folder / f"{MODULE}.html").stat().st_mode & 0o077 == 0
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert f"Your score: {expected(learner)['score']:g} of 10 points" in text
    for leak in ("BEGIN HIDDEN TESTS", "assert letter(answer)"):
        assert leak not in page
    assert "<script" not in page.lower()  # shown without scripts, so nothing to fetch (nbgrader's MathJax from a CDN)


def test_the_export_has_one_row_per_learner_and_module(course):
    assert sorted(course["exported"]) == sorted(LEARNERS)
    assert set(next(iter(course["exported"].values()))) == set(grades.EXPORT_COLUMNS)


def test_the_site_shows_a_learner_only_their_own_feedback_in_a_sandboxed_iframe(course):
    from course.contract import returned_feedback
    from course.lesson.widgets import feedback_html

    instance = str(course["instance"].root)
    page, about = returned_feedback(instance, "cohort-01", MODULE)
    assert about["score"] == expected("cohort-01")["score"]
    for other in ("nobody", "../cohort-01", "cohort-01/../lab-01", ".."):
        assert returned_feedback(instance, other, MODULE) is None
    shown = feedback_html(page, about, MODULE)
    outside, srcdoc = re.fullmatch(r'(.*<iframe [^>]*)srcdoc="([^"]*)"></iframe>', shown, re.DOTALL).groups()
    assert 'sandbox=""' in outside and "allow-" not in outside and "<script" not in outside
    assert html.unescape(srcdoc) == page  # the whole page, and only inside the sandboxed frame
