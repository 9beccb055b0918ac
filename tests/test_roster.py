"""One roster file, one reader (course/store/roster.py), three places that read it: `cohort add-learners`
(the cohort site), `instructor init --roster` (the gradebook) and the hub's ALLIES_HUB_ROSTER
(deploy/jupyterhub/). Through the real command line and the hub's real config file, each bad roster gets the
same clear message from all, and none changes anything; a good one with a spreadsheet's BOM, Unicode names
and blank rows is read alike."""
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from conftest import ROOT
from course.contract import COURSE_ID
from course.instance import Instance
from course.store.answers import AnswerStore

MODULE = "00-before-you-start"
HEADER = "learner_id,display_name,role\n"
BAD = {  # roster file: what the message must say
    "empty file": (b"", "is empty: a roster is CSV with the columns learner_id, display_name"),
    "header only": (HEADER, "lists no one"),
    "missing column": ("learner_id,name\nana,Ana Lima\n", "has no display_name column (its first line is "
                                                          "'learner_id,name')"),
    "duplicate ids": (HEADER + "ana,Ana Lima,\nben,Ben Okafor,\nana,Ana Souza,\n",
                      "line 4: learner id 'ana' is also on line 2"),
    "not UTF-8": ((HEADER + "ana,Inés Ruiz,\n").encode("latin-1"), "is not UTF-8 text: save it as CSV UTF-8"),
    "Unicode id": (HEADER + "josé,José Silva,\n", "line 2: learner id must be 1-100 characters from A-Z a-z"),
    "HTML in a name": (HEADER + "ana,<script>alert(1)</script>,\n",
                       "line 2: display name '<script>alert(1)</script>' contains < or >"),
    "path in an id": (HEADER + "../../etc,Eve,\n", "line 2: learner id must be 1-100 characters"),
    "slash in an id": (HEADER + "a/b,Eve,\n", "got 'a/b'"),
    "dots for an id": (HEADER + "..,Eve,\n", "and not only dots; got '..'"),
    "plus in an id": (HEADER + "ana+x,Eve,\n", "got 'ana+x'"),  # nbgrader's exchange splits names on '+'
    "blank name": (HEADER + "ana,,learner\n", "line 2: display name must be 1-200 characters, not blank"),
    "control character": (HEADER + "ana,Ana\x1bLima,\n", "without control characters"),
    "unknown role": (HEADER + "ana,Ana Lima,teacher\n", "line 2: role must be learner or instructor"),
    "no id": (HEADER + ",Ana Lima,\n", "line 2: learner id must be"),
}


def course(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)


HUB = """import json, sys
from traitlets.config.loader import PyFileConfigLoader
c = PyFileConfigLoader("jupyterhub_config.py", path="deploy/jupyterhub").load_config()
print(json.dumps([sorted(c.Authenticator.allowed_users), c.JupyterHub.load_groups]))"""


def hub(roster: Path, root: Path) -> subprocess.CompletedProcess:
    """The hub's config file loaded as JupyterHub loads it, with the roster (authentication set elsewhere)."""
    env = {**os.environ, "ALLIES_HUB_ROSTER": str(roster), "ALLIES_HUB_ROOT": str(root),
           "ALLIES_HUB_AUTH": "custom"}
    return subprocess.run([sys.executable, "-c", HUB], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=env)


@pytest.mark.parametrize("case", sorted(BAD))
def test_both_commands_refuse_a_bad_roster_with_the_same_message_and_change_nothing(tmp_path, case):
    content, message = BAD[case]
    roster = tmp_path / "roster.csv"
    roster.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    site = course("cohort", "add-learners", str(roster), "--instance", str(tmp_path / "instance"))
    grading = course("instructor", "init", str(tmp_path / "course"), "--roster", str(roster),
                     "--module", MODULE, "--no-check")
    on_hub = hub(roster, tmp_path / "hub")
    for done in (site, grading, on_hub):
        assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert site.stderr == grading.stderr == on_hub.stderr
    assert not (tmp_path / "instance").exists() and not (tmp_path / "course").exists()


def test_both_commands_say_when_the_roster_file_cannot_be_read(tmp_path):
    missing = tmp_path / "nowhere.csv"
    site = course("cohort", "add-learners", str(missing), "--instance", str(tmp_path / "instance"))
    grading = course("instructor", "init", str(tmp_path / "course"), "--roster", str(missing), "--no-check")
    for done in (site, grading):
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.strip() == f"cannot read the roster {missing}: No such file or directory"


def test_many_bad_lines_are_shown_at_once_and_the_rest_counted(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + "".join(f"x{n}/,Eve,\n" for n in range(14)), encoding="utf-8")
    done = course("cohort", "add-learners", str(roster), "--instance", str(tmp_path / "instance"))
    assert done.returncode == 1 and "nothing was added; fix these lines" in done.stderr
    assert "line 11: " in done.stderr and "line 12: " not in done.stderr and "… and 4 more" in done.stderr


# As a spreadsheet saves "CSV UTF-8": a BOM, spaces and capitals in the header, a blank row; Unicode names.
GOOD = ("\ufeffLearner_ID, Display_Name ,Role,Email\r\n"
        "ana,Ana Lima,,ana@example.org\r\n"
        "nguyen,Nguyễn Văn An,Learner,\r\n"
        ",,,\r\n"
        "obrien,\"Seán O'Brien & Zoë\",learner,\r\n"
        "ines,Inés Ruiz,instructor,\r\n")
LEARNERS = {"ana": "Ana Lima", "nguyen": "Nguyễn Văn An", "obrien": "Seán O'Brien & Zoë"}


def test_the_cohort_site_adds_everyone_on_a_spreadsheets_roster_and_refuses_anyone_twice(tmp_path):
    roster, instance = tmp_path / "roster.csv", tmp_path / "instance"
    roster.write_text(GOOD, encoding="utf-8")
    done = course("cohort", "add-learners", str(roster), "--instance", str(instance))
    assert done.returncode == 0, done.stderr
    codes = list(csv.DictReader(io.StringIO(done.stdout)))
    assert {row["learner_id"]: row["display_name"] for row in codes} == {**LEARNERS, "ines": "Inés Ruiz"}
    with AnswerStore(Instance(instance).store) as store:
        assert {p.learner_id: p.role for p in store.learners()} == {**dict.fromkeys(LEARNERS, "learner"),
                                                                     "ines": "instructor"}

    roster.write_text("learner_id,display_name\nzed,Zed Ali\nana,Ana Lima\n", encoding="utf-8")
    again = course("cohort", "add-learners", str(roster), "--instance", str(instance))
    assert again.returncode == 1 and "Traceback" not in again.stderr, again.stderr
    assert "nothing was added; already on the cohort's roster: ana" in again.stderr
    with AnswerStore(Instance(instance).store) as store:
        assert "zed" not in {p.learner_id for p in store.learners()}


def test_grading_puts_the_learners_on_the_same_roster_in_the_gradebook(tmp_path):
    roster, root = tmp_path / "roster.csv", tmp_path / "course"
    roster.write_text(GOOD, encoding="utf-8")
    done = course("instructor", "init", str(root), "--roster", str(roster), "--module", MODULE, "--no-check")
    assert done.returncode == 0, done.stderr
    assert "gradebook: 3 learners on the roster" in done.stdout
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        students = {s.id: (s.first_name, s.last_name, s.email) for s in gb.students}
    assert students == {"ana": ("Ana", "Lima", "ana@example.org"), "nguyen": ("Nguyễn Văn", "An", None),
                        "obrien": ("Seán O'Brien &", "Zoë", None)}


def test_the_hub_lets_in_the_same_roster_and_makes_its_instructors_graders(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(GOOD, encoding="utf-8")
    done = hub(roster, tmp_path / "hub")
    assert done.returncode == 0, done.stderr
    allowed, groups = json.loads(done.stdout.strip().splitlines()[-1])
    assert allowed == sorted([*LEARNERS, "ines"])
    assert groups == {f"formgrade-{COURSE_ID}": {"users": ["ines"]}}
