"""The grading sandbox, checked: a probe run in the course's sandboxed grading kernel, started as nbgrader
starts it."""
from __future__ import annotations

import json
import os

from course.grading import sandbox, settings
from course.grading.course_dir import Course


PROBE = r"""
import json, os, resource, socket
def can(fn):
    try:
        fn(); return True
    except Exception:
        return False
def connects():
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", %d)) == 0
paths = json.loads(%r)
import course.lesson.figures, course.lesson.widgets
found = {
    "uid": os.getuid(),
    "course_importable": True,
    "reads_gradebook": can(lambda: open(paths["gradebook"], "rb").read(1)),
    "sees_course_files": can(lambda: os.listdir(paths["root"])),
    "writes_course_dir": can(lambda: open(os.path.join(paths["root"], "probe"), "w").close()),
    "reads_solutions": can(lambda: os.listdir(paths["solutions"])),
    "other_processes": sum(p.isdigit() for p in os.listdir("/proc")) > 2,
    "reaches_loopback": connects(),
    "address_space_mb": resource.getrlimit(resource.RLIMIT_AS)[0] // 2**20,
    "cpu_seconds": resource.getrlimit(resource.RLIMIT_CPU)[0],
}
print(json.dumps(found))
"""
CLOSED = ("reads_gradebook", "sees_course_files", "writes_course_dir", "reads_solutions", "other_processes",
          "reaches_loopback")


def run_in_grading_kernel(course: Course, code: str) -> dict:
    """Run `code`, which prints one JSON line last, in the course's sandboxed grading kernel, started as
    nbgrader starts it; returns that line. Raises if the cell fails or prints nothing."""
    import nbformat
    from nbclient import NotebookClient

    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(course.jupyter_path), saved) if p)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    try:
        NotebookClient(nb, kernel_name=sandbox.KERNEL_NAME, timeout=120, startup_timeout=120,
                       kernel_manager_class=settings.GradingKernelManager).execute()
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = saved
    out = nb.cells[0].outputs
    text = "".join(o.get("text", "") for o in out if o.output_type == "stream")
    if any(o.output_type == "error" for o in out) or not text.strip():
        raise RuntimeError(f"the sandboxed grading kernel cannot run the course: {out}")
    return json.loads(text.strip().splitlines()[-1])


def check_sandbox(course: Course) -> dict:
    """Run a probe in the grading kernel: who it runs as, what it can reach, its limits. Raises if the
    kernel can reach anything in CLOSED (a listening socket on loopback is opened for the probe to try)."""
    import socket

    from course.paths import folder

    paths = {"gradebook": str(course.gradebook), "root": str(course.root),
             "solutions": str(folder("solutions"))}
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        found = run_in_grading_kernel(course, PROBE % (listener.getsockname()[1], json.dumps(paths)))
    if any(found[k] for k in CLOSED) or (os.geteuid() == 0 and found["uid"] in (0, os.getuid())):
        raise RuntimeError(f"the grading sandbox is not closed: {found}")
    return found
