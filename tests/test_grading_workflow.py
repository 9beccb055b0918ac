"""The grading workflow keeps and shows its state: hand grades survive a re-run of collect and autograde,
a resubmission after feedback is held back (and taken when the instructor allows it), learners missing from
the roster are added safely under parallel grading, a failed autograde shows as failed in the export, and a
failed hand-in leaves nothing that collect would take. Real nbgrader and `instructor` commands."""
import csv
import datetime as dt
import errno
import json
import os

import pytest
from nbgrader.api import Gradebook

from conftest import correct_answers
from course.grading import autograding, collecting, feedback, grades, instructor
from course.lesson import submissions
from course.grading.settings import COURSE_ID
from course.lesson.submissions import fill, to_exchange

MODULE = "01-why-men-why-now"
RIGHT = correct_answers(MODULE, checks_only=True)
WRONG = {q: next(x for x in "abcd" if x != RIGHT[q]) for q in RIGHT}
REFLECTION = "We chose a lead in a short call; I will ask who else has done the work next time."
QUIET = {"log": lambda *a: None}


def export(root) -> dict[str, dict]:
    out = root.parent / "grades.csv"
    grades.export(root, out)
    with open(out, encoding="utf-8", newline="") as fh:
        return {r["learner_id"]: r for r in csv.DictReader(fh)}


def grade(root, learner: str, grade_id: str):
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        g = gb.find_grade(grade_id, MODULE, MODULE, learner)
        return g.manual_score, g.needs_manual_grade, gb.find_submission(MODULE, learner).score


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    base = tmp_path_factory.mktemp("workflow")
    roster = base / "roster.csv"
    roster.write_text("learner_id,display_name,role\nana,Ana Lima,learner\nbob,Bob Stone,learner\n",
                      encoding="utf-8")
    root = base / "course"
    instructor.init(root, roster=roster, modules=[MODULE], check=False, **QUIET)
    release = json.loads((root / "release" / MODULE / f"{MODULE}.ipynb").read_text(encoding="utf-8"))
    earlier = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    for learner in ("ana", "bob", "zoe-not-on-roster", "yan-not-on-roster"):
        to_exchange(root / "exchange", COURSE_ID, learner, MODULE,
                    fill(release, {**RIGHT, "m01-r1": REFLECTION}), when=earlier)
    broken = to_exchange(root / "exchange", COURSE_ID, "carl", MODULE, fill(release, RIGHT), when=earlier)
    broken.write_text("{this is not a notebook", encoding="utf-8")
    collecting.collect(root, **QUIET)
    first = autograding.autograde(root, jobs=2, **QUIET)
    grades.set_manual_grade(root, MODULE, "ana", "m01-r1", 2)
    return {"root": root, "release": release, "first": {g.learner: g for g in first}}


def test_learners_missing_from_the_roster_are_graded_in_parallel(course):
    for learner in ("zoe-not-on-roster", "yan-not-on-roster"):
        assert course["first"][learner].ok, course["first"][learner].error


def test_a_failed_autograde_shows_as_failed_in_the_export(course):
    assert not course["first"]["carl"].ok
    row = export(course["root"])["carl"]
    assert row["autograde_failed"] == "True" and row["status"] == "autograde failed"
    assert row["needs_manual_grade"] == "False"


def test_rerunning_collect_and_autograde_keeps_hand_grades(course):
    root = course["root"]
    collecting.collect(root, **QUIET)
    again = autograding.autograde(root, jobs=2, **QUIET)
    assert {g.learner for g in again} == {"carl"}  # only the failed one is tried again
    manual, needs_manual, score = grade(root, "ana", "m01-r1")
    assert manual == 2 and needs_manual is False and score == 4 + 2
    assert export(root)["ana"]["status"] == "graded"


def test_a_resubmission_after_feedback_is_held_back_then_taken_when_allowed(course):
    root = course["root"]
    feedback.feedback(root, **QUIET)
    before = (root / "submitted" / "ana" / MODULE / "timestamp.txt").read_text()
    to_exchange(root / "exchange", COURSE_ID, "ana", MODULE, fill(course["release"], WRONG))
    collecting.collect(root, **QUIET)
    assert (root / "submitted" / "ana" / MODULE / "timestamp.txt").read_text() == before
    assert list((root / ".grading" / "held").glob(f"ana+{MODULE}+*"))
    assert export(root)["ana"]["after_feedback"] == "held"

    collecting.collect(root, allow_after_feedback=True, **QUIET)
    assert (root / "submitted" / "ana" / MODULE / "timestamp.txt").read_text() != before
    autograding.autograde(root, jobs=1, learners=["ana"], **QUIET)
    row = export(root)["ana"]
    assert row["after_feedback"] == "accepted"
    assert row["needs_manual_grade"] == "True"  # a changed submission: its old hand grade is for review
    assert grade(root, "ana", "m01-q1-check")[0] is None

    taken = (root / "submitted" / "ana" / MODULE / "timestamp.txt").read_text()
    collecting.collect(root, **QUIET)  # a later plain collect keeps what was let through
    assert (root / "submitted" / "ana" / MODULE / "timestamp.txt").read_text() == taken
    assert export(root)["ana"]["after_feedback"] == "accepted"


def test_a_failed_hand_in_leaves_nothing_collect_would_take(tmp_path, monkeypatch):
    nb = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    good = to_exchange(tmp_path, COURSE_ID, "ana", MODULE, nb)
    calls = []

    def full_disk(fd):
        calls.append(fd)
        if len(calls) == 2:  # the timestamp, written last
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(submissions.os, "fsync", full_disk)
    with pytest.raises(OSError):
        to_exchange(tmp_path, COURSE_ID, "ana", MODULE, nb)
    inbound = tmp_path / COURSE_ID / "inbound"
    assert os.listdir(inbound) == [good.parent.name]  # the good one, and no half-written folder


# -- what collect refuses to read (it runs as the grader, and nbgrader's copy follows links) -------------

NOBODY = 65534  # a local learner's account: pwd has "nobody"


def hand_in(inbound, name: str, notebook: str | None = None, link_to=None, owner: int | None = None):
    folder = inbound / name
    folder.mkdir()
    path = folder / f"{MODULE}.ipynb"
    if link_to:
        path.symlink_to(link_to)
    else:
        path.write_text(notebook or "{}", encoding="utf-8")
    (folder / "timestamp.txt").write_text(name.split("+")[2], encoding="utf-8")
    if owner is not None:
        for p in (path, folder / "timestamp.txt", folder):
            os.lchown(p, owner, owner)
    return folder


@pytest.fixture(scope="module")
def vetted(tmp_path_factory):
    root = tmp_path_factory.mktemp("vetting") / "course"
    instructor.init(root, modules=[MODULE], check=False, **QUIET)
    release = (root / "release" / MODULE / f"{MODULE}.ipynb").read_text(encoding="utf-8")
    inbound = root / "exchange" / COURSE_ID / "inbound"
    now = dt.datetime.now(dt.timezone.utc)
    stamp = lambda when: when.strftime(submissions.TIMESTAMP_FORMAT)  # noqa: E731
    hand_in(inbound, f"honest+{MODULE}+{stamp(now)}+a", release)
    hand_in(inbound, f"linker+{MODULE}+{stamp(now)}+b",
            link_to=root / "source" / MODULE / f"{MODULE}.ipynb")
    hand_in(inbound, f"oddly+{MODULE}+not-a-time+c", release)
    uploads = root.parent / "uploads"
    (uploads / "uploader").mkdir(parents=True)
    (uploads / "uploader" / f"{MODULE}.ipynb").symlink_to(root / "source" / MODULE / f"{MODULE}.ipynb")
    if os.geteuid() == 0:
        hand_in(inbound, f"victim+{MODULE}+{stamp(now)}+d", release, owner=NOBODY)
        hand_in(inbound, f"nobody+{MODULE}+{stamp(now - dt.timedelta(hours=2))}+e", release, owner=NOBODY)
    said = []
    collecting.collect(root, uploads=uploads, log=said.append)
    return {"root": root, "said": "\n".join(said),
            "collected": sorted(p.parent.name for p in (root / "submitted").glob(f"*/{MODULE}"))}


def test_a_link_in_a_hand_in_or_an_upload_is_never_followed(vetted):
    assert "linker" not in vetted["collected"] and "uploader" not in vetted["collected"]
    assert "not a plain file" in vetted["said"]
    assert list((vetted["root"] / ".grading" / "quarantine").glob("linker+*"))


def test_a_badly_named_hand_in_does_not_stop_collect_for_everyone(vetted):
    assert "honest" in vetted["collected"]
    assert "its time cannot be read" in vetted["said"]


@pytest.mark.skipif(os.geteuid() != 0, reason="handing in as another user needs root to set it up")
def test_a_hand_in_under_another_learners_name_or_stamped_in_the_past_is_not_collected(vetted):
    assert "victim" not in vetted["collected"] and "nobody" not in vetted["collected"]
    assert "handed in by another user" in vetted["said"]
    assert "stamped earlier than it was handed in" in vetted["said"]


def test_learners_cannot_move_the_course_folder_or_each_others_hand_ins(vetted):
    exchange = vetted["root"] / "exchange"
    assert os.stat(exchange).st_mode & 0o1000 and os.stat(exchange / COURSE_ID / "inbound").st_mode & 0o1000
