"""The grading kernel sees only what grading needs (README, "The grading sandbox"): each claim probed from
inside a real sandboxed kernel (course/grading/sandbox.py, bubblewrap), started as nbgrader starts it."""
import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT
from course.grading import settings as grading, instructor, sandbox, sandbox_check

MODULE = "01-why-men-why-now"


PROBE = r"""
import json, os, socket
def read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read(64).decode("utf-8", "replace")
    except Exception as exc:
        return type(exc).__name__
def listing(path):
    try:
        return sorted(os.listdir(path))
    except Exception as exc:
        return type(exc).__name__
def connect(port):
    with socket.socket() as s:
        s.settimeout(3)
        return s.connect_ex(("127.0.0.1", port))
paths = json.loads(%r)
import course.lesson.widgets  # the course itself works
print(json.dumps({
    "other_clone": read(paths["other_clone"]),
    "gradebook": read(paths["gradebook"]),
    "other_submission": read(paths["other_submission"]),
    "repo_solutions": listing(paths["repo_solutions"]),
    "repo_git": listing(paths["repo_git"]),
    "repo_root": listing(paths["repo_root"]),
    "processes": [p for p in os.listdir("/proc") if p.isdigit()],
    "cmdline_of_1": read("/proc/1/cmdline"),
    "loopback": connect(paths["port"]),
    "uid": os.getuid(),
    "home": os.environ.get("HOME"),
    "tokens": sorted(k for k in os.environ if "TOKEN" in k or "SECRET" in k),
}))
"""


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory):
    return instructor.init(tmp_path_factory.mktemp("sandbox") / "course", modules=[MODULE], check=False,
                           log=lambda *a: None)


@pytest.fixture(scope="module")
def probed(course_dir):
    course, root = course_dir, course_dir.root
    base = root.parent
    other_clone = base / "elsewhere" / "allies-in-tech" / "solutions"
    other_clone.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / f"{MODULE}.ipynb", other_clone)
    os.chmod(base, 0o755)  # reachable by any user, as a clone in a shared folder would be
    (root / "submitted" / "someone-else" / MODULE).mkdir(parents=True)
    other = root / "submitted" / "someone-else" / MODULE / f"{MODULE}.ipynb"
    other.write_text("OTHER-LEARNER-CANARY", encoding="utf-8")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        paths = {"other_clone": str(other_clone / f"{MODULE}.ipynb"), "gradebook": str(course.gradebook),
                 "other_submission": str(other), "repo_solutions": str(ROOT / "solutions"),
                 "repo_git": str(ROOT / ".git"), "repo_root": str(ROOT), "port": listener.getsockname()[1]}
        os.environ["ALLIES_TEST_TOKEN"] = "must-not-reach-the-kernel"
        try:
            return sandbox_check.run_in_grading_kernel(course, PROBE % json.dumps(paths))
        finally:
            os.environ.pop("ALLIES_TEST_TOKEN")


def test_another_clone_of_the_repository_is_not_there(probed):
    assert probed["other_clone"] == "FileNotFoundError"


def test_the_gradebook_and_other_submissions_are_not_there(probed):
    assert probed["gradebook"] == "FileNotFoundError"
    assert probed["other_submission"] == "FileNotFoundError"


def test_of_this_repository_only_the_course_package_data_and_modules_are_there(probed):
    assert probed["repo_solutions"] == "FileNotFoundError"
    assert probed["repo_git"] == "FileNotFoundError"
    assert set(probed["repo_root"]) <= {"course", "data", "modules", "instance", ".venv"}


def test_no_other_process_is_visible(probed):
    assert len(probed["processes"]) <= 3  # bwrap's init, the kernel and its child at most
    assert "pytest" not in probed["cmdline_of_1"]


def test_no_network_not_even_loopback(probed):
    assert probed["loopback"] != 0


@pytest.mark.skipif(os.geteuid() != 0, reason="a throwaway user id needs root")
def test_the_kernel_runs_as_a_throwaway_user(probed):
    assert probed["uid"] >= sandbox.UID_BASE


def test_the_kernel_gets_a_private_home_and_none_of_the_graders_secrets(probed):
    assert probed["home"].startswith(sandbox.INSIDE)
    assert probed["tokens"] == []



def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        here = todo.pop()
        try:
            children = [int(c) for c in Path(f"/proc/{here}/task/{here}/children").read_text().split()]
        except OSError:
            children = []
        found.update(children)
        todo.extend(children)
    return found


def test_an_interrupt_reaches_the_kernel_inside(course_dir):
    """nbgrader's cell timeout interrupts the kernel: the endless loop ends in KeyboardInterrupt."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("while True:\n    pass")])
    os.environ["JUPYTER_PATH"] = str(course_dir.jupyter_path)
    try:
        NotebookClient(nb, kernel_name=sandbox.KERNEL_NAME, timeout=3, startup_timeout=60,
                       interrupt_on_timeout=True, allow_errors=True,
                       kernel_manager_class=grading.GradingKernelManager).execute()
    finally:
        os.environ.pop("JUPYTER_PATH", None)
    assert [o.get("ename") for o in nb.cells[0].outputs] == ["KeyboardInterrupt"]


@pytest.fixture
def busy_kernel(course_dir, tmp_path):
    """A sandboxed kernel over IPC, as nbgrader starts one (jupyter_client's synchronous manager, so the
    test needs no event loop of its own); shut down afterwards if it is still there."""
    from jupyter_client import KernelManager

    os.environ["JUPYTER_PATH"] = str(course_dir.jupyter_path)
    km = KernelManager(kernel_name=sandbox.KERNEL_NAME, transport="ipc",
                       connection_file=str(tmp_path / "kernel.json"))
    km.start_kernel()
    yield km
    if km.is_alive():
        km.shutdown_kernel(now=True)
    os.environ.pop("JUPYTER_PATH", None)


def test_killing_the_launcher_ends_the_kernel_and_everything_it_started(busy_kernel):
    launcher = busy_kernel.provisioner.process.pid
    deadline = time.monotonic() + 30
    while len(inside := _descendants(launcher)) < 3:  # bwrap, its init and the kernel
        assert time.monotonic() < deadline, "the sandboxed kernel did not start"
        time.sleep(0.1)
    os.kill(launcher, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while any(os.path.exists(f"/proc/{p}") and "zombie" not in _state(p) for p in inside):
        assert time.monotonic() < deadline, "a sandboxed process outlived its launcher"
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("State:"))
        return line.lower()
    except (OSError, StopIteration):
        return "zombie"
