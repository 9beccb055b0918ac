"""Hostile submissions are bounded and cannot touch grading: an endless loop (with and without a way to
interrupt it), endless output, a huge allocation, sys.exit, os._exit, a signal to every process it may reach,
a file past the size limit, and a cell that deletes the course directory, the gradebook and the repository.
Each is graded (a dead or stuck kernel costs only the checks after it), the gradebook and the course
directory stay intact, nothing is left running, and every honest learner graded beside them, in parallel,
gets exactly their score. Real nbgrader, the real sandbox (course/grading/sandbox.py) and `instructor autograde`."""
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from conftest import ROOT, correct_answers
from course.grading import autograding, collecting, instructor
from course.grading.settings import COURSE_ID
from course.lesson.submissions import fill, to_exchange

MODULE = "01-why-men-why-now"
CELL_TIMEOUT = 10
ROOTED = os.geteuid() == 0
SOURCE = ROOT / "solutions" / f"{MODULE}.ipynb"


RIGHT = correct_answers(MODULE, checks_only=True)
CHECKS = sorted(RIGHT)  # m01-q1 … m01-q4, in notebook order


def hostile(course_dir: Path) -> dict[str, tuple[str, str, int]]:
    """learner -> (answer cell, code after the right answer in it, expected autograded score).
    Every learner answers every check right; what breaks is the code, placed in one answer cell: that
    check scores 0 (its cell holds more than the answer line) and the others score from their text."""
    return {
        "endless-loop": ("m01-q2", "while True:\n    pass", 3),
        "loop-ignoring-interrupts": (
            "m01-q2", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass", 3),
        "endless-output": ("m01-q1", "while True:\n    print('spam ' * 200)", 3),
        "huge-allocation": ("m01-q1", "hog = bytearray(64 * 2**30)", 3),
        "sys-exit": ("m01-q1", "import sys\nsys.exit(3)", 3),
        "os-exit": ("m01-q3", "import os\nos._exit(0)", 3),
        "signals-everyone": ("m01-q1", "import os, signal\nos.kill(-1, signal.SIGKILL)", 3),
        "fills-disk": ("m01-q1", "open('/tmp/allies-hostile-big', 'wb').write(b'0' * (200 * 2**20))", 3),
        "deletes-files": ("m01-q1", "\n".join([
            "import os, shutil",
            "def attempt(what, act):",
            "    try:\n        print(what, '->', act())\n    except Exception as e:\n"
            "        print(what, 'failed:', type(e).__name__)",
            "attempt('remove ../../../gradebook.db', lambda: os.remove('../../../gradebook.db'))",
            "attempt('remove gradebook', lambda: os.remove(%r))" % str(course_dir / "gradebook.db"),
            *("attempt('rmtree %s', lambda: shutil.rmtree(%r))" % (p.name, str(p))
              for p in (course_dir, ROOT / "solutions", ROOT / "course")),
            "attempt('list course dir', lambda: os.listdir(%r))" % str(course_dir),
            "attempt('read solutions', lambda: open(%r).read())" % str(SOURCE),
        ]), 3),
    }


HONEST = {  # learner -> letters given
    "honest-all-right": dict(RIGHT),
    "honest-two-right": {**RIGHT, "m01-q3": "b" if RIGHT["m01-q3"] != "b" else "c",
                         "m01-q4": "b" if RIGHT["m01-q4"] != "b" else "c"},
    "honest-none-right": {q: next(x for x in "abcd" if x != RIGHT[q]) for q in CHECKS},
    "honest-also-right": dict(RIGHT),
}


def expected_honest(learner: str) -> int:
    return sum(HONEST[learner][q] == RIGHT[q] for q in CHECKS)


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` with its content hash."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def kept(course_dir: Path) -> dict[str, str]:
    """What grading must never change: sources, releases, submissions and the config."""
    config = (course_dir / "nbgrader_config.py").read_bytes()
    found = {"nbgrader_config.py": hashlib.sha256(config).hexdigest()}
    for step in ("source", "release", "submitted"):
        found.update({f"{step}/{k}": v for k, v in tree(course_dir / step).items()})
    return found


def repo_files() -> set[str]:
    """The repository's sources the hostile cell tries to delete (existence only: authors edit them)."""
    return {str(p.relative_to(ROOT)) for name in ("solutions", "course", "data")
            for p in (ROOT / name).rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def sandbox_processes() -> list[str]:
    out = subprocess.run(["ps", "-eo", "uid=,pid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.split() and int(line.split()[0]) >= 2_000_000_000]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "course"
    instructor.init(root, modules=[MODULE], cell_timeout=CELL_TIMEOUT, notebook_timeout=120, check=False,
                    log=lambda *a: None)
    release = json.loads((root / "release" / MODULE / f"{MODULE}.ipynb").read_text(encoding="utf-8"))
    exchange = root / "exchange"
    attacks = hostile(root)
    for learner, (cell, code, _) in attacks.items():
        nb = fill(release, RIGHT)
        target = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == cell)
        line = f"answer = {RIGHT[cell]!r}"
        target["source"] = target["source"].replace(line, f"{line}\n{code}", 1)
        to_exchange(exchange, COURSE_ID, learner, MODULE, nb)
    for learner, letters in HONEST.items():
        to_exchange(exchange, COURSE_ID, learner, MODULE, fill(release, letters))
    collecting.collect(root, log=lambda *a: None)
    before = kept(root)
    repo_before = repo_files()
    already = set(sandbox_processes())  # other runs' sandboxes on this machine are not ours to judge
    start = time.monotonic()
    results = autograding.autograde(root, jobs=2, log=lambda *a: None)
    took = time.monotonic() - start
    return {"root": root, "results": {r.learner: r for r in results}, "took": took, "attacks": attacks,
            "before": before, "after": kept(root), "repo_before": repo_before,
            "repo_after": repo_files(), "stray": strays(already)}


def strays(already: set[str], seconds: float = 60) -> list[str]:
    """The sandbox processes grading left behind: none once the last kernels' launchers have finished
    cleaning up. Waits for that (a loaded machine takes longer), and returns what is still there after
    `seconds`: a process that outlives its sandbox stays for good."""
    deadline = time.monotonic() + seconds
    while (left := [p for p in sandbox_processes() if p not in already]) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def scores(root: Path) -> dict[str, dict]:
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        found = {}
        for sub in gb.find_assignment(MODULE).submissions:
            cells = {g.name: g.auto_score for nb in sub.notebooks for g in nb.grades}
            found[sub.student.id] = {"code_score": sub.code_score,
                                     "checks": [cells[f"{q}-check"] for q in CHECKS]}
        return found


def outputs(root: Path, learner: str, grade_id: str) -> str:
    nb = json.loads((root / "autograded" / learner / MODULE / f"{MODULE}.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    return json.dumps(cell.get("outputs", []))


def test_every_submission_is_graded_hostile_or_not(graded):
    assert set(graded["results"]) == set(graded["attacks"]) | set(HONEST)
    failed = {k: r.error for k, r in graded["results"].items() if not r.ok}
    assert not failed


@pytest.mark.parametrize("learner", sorted(HONEST))
def test_honest_learners_graded_beside_hostile_ones_get_exactly_their_score(graded, learner):
    assert scores(graded["root"])[learner]["code_score"] == expected_honest(learner)


@pytest.mark.parametrize("learner", ["endless-loop", "loop-ignoring-interrupts", "endless-output",
                                     "huge-allocation", "sys-exit", "os-exit", "signals-everyone",
                                     "fills-disk", "deletes-files"])
def test_a_hostile_submission_keeps_the_points_earned_before_it_broke(graded, learner):
    assert scores(graded["root"])[learner]["code_score"] == graded["attacks"][learner][2]


def test_checks_are_scored_from_their_answers_even_after_the_kernel_died_or_hung(graded):
    found = scores(graded["root"])
    assert found["os-exit"]["checks"] == [1, 1, 0, 1]
    assert found["loop-ignoring-interrupts"]["checks"] == [1, 0, 1, 1]
    assert "CellNotRun" in outputs(graded["root"], "os-exit", "m01-c20")  # a cell after the exit: not run
    assert "AnswerCellChanged" in outputs(graded["root"], "os-exit", "m01-q3-check")


def test_each_hostile_submission_is_bounded_in_time(graded):
    bound = {"loop-ignoring-interrupts": 2 * CELL_TIMEOUT + 40, "endless-loop": CELL_TIMEOUT + 40}
    for learner in graded["attacks"]:
        assert graded["results"][learner].seconds < bound.get(learner, 40), learner


def test_endless_output_is_cut_short(graded):
    shown = outputs(graded["root"], "endless-output", "m01-q1")
    assert "Output stopped" in shown or "Output truncated" in shown
    assert len(shown) < 3_000_000


def test_a_huge_allocation_fails_inside_the_kernel(graded):
    assert "MemoryError" in outputs(graded["root"], "huge-allocation", "m01-q1")


def test_a_file_past_the_size_limit_fails_and_is_removed(graded):
    assert "File too large" in outputs(graded["root"], "fills-disk", "m01-q1")
    assert not Path("/tmp/allies-hostile-big").exists()


def test_the_gradebook_survives_and_stays_private(graded):
    db = graded["root"] / "gradebook.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert oct(db.stat().st_mode & 0o777) == "0o600"
    assert len(scores(graded["root"])) == len(graded["attacks"]) + len(HONEST)


def test_the_course_directory_and_the_repository_are_untouched(graded):
    assert graded["after"] == graded["before"]
    assert graded["repo_before"] <= graded["repo_after"]


def test_learner_code_sees_neither_the_course_directory_nor_the_answers(graded):
    shown = outputs(graded["root"], "deletes-files", "m01-q1")
    # Not in the kernel's view at all (bubblewrap shows it only Python, the course package and its data).
    assert "list course dir failed: FileNotFoundError" in shown
    assert "read solutions failed: FileNotFoundError" in shown and "BEGIN HIDDEN TESTS" not in shown
    removals = re.findall(r"(?:remove|rmtree) [^'\\]*? (->|failed:)", shown)
    assert removals == ["failed:"] * 5  # every removal refused


@pytest.mark.skipif(not ROOTED, reason="throwaway user ids need root")
def test_nothing_the_learners_started_is_left_running(graded):
    assert graded["stray"] == []
