"""Autograding throughput: `python -m course instructor autograde` against nbgrader's own serial autograde.

    python bench/autograde.py            200 submissions of Module 1
    python bench/autograde.py --quick    40 submissions of Module 1 (a smoke run, ~3 min)
    python bench/autograde.py --full     also 30 submissions of every other module

Each run grades the same submissions several ways, in fresh course directories made by `instructor init`:

- **plain serial**: `nbgrader autograde MODULE` in a directory configured as nbgrader's documentation
  and this course's README had it before (the course's `nbgrader_config.py`: stubs, feedback settings,
  stock `python3` kernel, no sandbox);
- **sandboxed serial**: `nbgrader autograde MODULE` in the instructor's directory (the sandboxed kernel,
  launched from scratch for every submission), on a sample;
- **ours**: `instructor autograde --all --jobs N` for several N.

Every way must give identical scores, cell by cell. Writes bench/AUTOGRADE.md (its own file).
"""
from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")

from course.grading import autograding, collecting, instructor, sandbox  # noqa: E402
from course.grading.settings import COURSE_ID, config_file  # noqa: E402
from course.lesson.submissions import answer_cells, fill, to_exchange  # noqa: E402

NBGRADER = str(Path(sys.executable).parent / "nbgrader")
FIRST = "01-why-men-why-now"
OUT = ROOT / "bench" / "AUTOGRADE.md"
RUN_AS = {True: "root (bubblewrap sandbox with a throwaway user id per kernel)",
          False: "a normal user (bubblewrap sandbox in a user namespace)"}
SAMPLES = {10: "s00?", 20: "s0[01]?", 50: "s0[0-4]?", 100: "s0??"}  # the first N learners, as a glob


# -- measuring --------------------------------------------------------------------------------------------

def _busy_jiffies() -> tuple[int, int]:
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class Phase:
    """Wall time, this process tree's CPU (children are counted once reaped), the whole machine's busy CPU
    and the load average over one timed phase."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        self.load0 = os.getloadavg()[0]
        self.busy0, self.total0 = _busy_jiffies()
        self.cpu0 = self._cpu()
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.wall = time.monotonic() - self.t0
        self.cpu = self._cpu() - self.cpu0
        busy, total = _busy_jiffies()
        ticks = os.sysconf("SC_CLK_TCK")
        self.machine_cpu = (busy - self.busy0) / ticks
        self.others_cores = max(0.0, (self.machine_cpu - self.cpu) / self.wall) if self.wall else 0.0
        self.load = (self.load0 + os.getloadavg()[0]) / 2

    @staticmethod
    def _cpu() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime + _forkserver_cpu()


def _forkserver_cpu() -> float:
    """CPU of the workers `instructor autograde` forks from multiprocessing's fork server (a child of this
    process that lives on, so its reaped workers and their kernels are not in RUSAGE_CHILDREN)."""
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime


def machine() -> dict:
    with open("/proc/cpuinfo") as fh:
        model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "?")
    with open("/proc/meminfo") as fh:
        mem_kb = int(next(line.split()[1] for line in fh if line.startswith("MemTotal")))

    def version(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "absent"

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    return {"cpu": model, "cores": len(os.sched_getaffinity(0)), "ram_gb": round(mem_kb / 2**20, 1),
            "os": platform.platform(), "python": platform.python_version(),
            "packages": ", ".join(f"{n} {version(n)}" for n in ("nbgrader", "nbclient", "ipykernel",
                                                                "jupyter_client", "ipywidgets")),
            "root": os.geteuid() == 0, "commit": commit, "load_start": os.getloadavg()}


# -- the course directories --------------------------------------------------------------------------------

def make_submissions(root: Path, module: str, count: int, seed: int) -> list[str]:
    """`count` learners' answers to `module`, varied (each check right with probability 0.6, reflections
    written or left), handed in through the exchange as the cohort site does."""
    rng = random.Random(seed)
    release = json.loads((root / "release" / module / f"{module}.ipynb").read_text(encoding="utf-8"))
    learners = []
    for n in range(count):
        learner = f"s{n:03d}"
        given = {}
        for grade_id, kind in answer_cells(release).items():
            if kind == "code":
                given[grade_id] = rng.choice("abcd")
            elif rng.random() < 0.7:
                given[grade_id] = f"{learner}: a reflection about {grade_id} that a grader will read."
        to_exchange(root / "exchange", COURSE_ID, learner, module, fill(release, given))
        learners.append(learner)
    return learners


def plain_directory(base: Path, source: Path, modules: list[str]) -> Path:
    """A stock course directory: the course's nbgrader_config.py, the same sources and submissions."""
    plain = base / "plain"
    plain.mkdir()
    (plain / "nbgrader_config.py").write_text(config_file(), encoding="utf-8")
    shutil.copytree(source / "source", plain / "source")
    for module in modules:
        run([NBGRADER, "generate_assignment", module, "--force"], plain)
    shutil.copytree(source / "submitted", plain / "submitted")
    return plain


def run(cmd: list[str], cwd: Path) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return done.stderr


def scores(root: Path, module: str, learners: list[str] | None = None) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        found = {}
        for sub in gb.find_assignment(module).submissions:
            if learners is None or sub.student.id in learners:
                found[sub.student.id] = sorted((g.name, g.auto_score, g.needs_manual_grade)
                                               for nb in sub.notebooks for g in nb.grades)
        return found


# -- the run ------------------------------------------------------------------------------------------------

def bench(args) -> dict:
    count = 40 if args.quick else args.count
    modules = {FIRST: count}
    if args.full:
        from course.grading.release import module_names

        modules.update({m: 30 for m in module_names() if m != FIRST})
    jobs = args.jobs or ([2, 3] if args.quick else [2, 3, 4])
    sample = 20 if args.quick else args.serial_sample
    if sample > count:
        raise SystemExit(f"the serial sample ({sample}) cannot be larger than the run ({count})")
    base = Path(tempfile.mkdtemp(prefix="allies-autograde-bench-"))
    root = base / "course"
    started = time.monotonic()
    about = machine()
    print(f"course directory {root}; {sum(modules.values())} submissions", flush=True)
    instructor.init(root, modules=list(modules), check=False, log=lambda *a: None)
    learners = {m: make_submissions(root, m, n, seed=i) for i, (m, n) in enumerate(modules.items())}
    collecting.collect(root, log=lambda *a: None)
    total = sum(modules.values())
    phases, reference, identical = [], {}, True

    plain = plain_directory(base, root, list(modules))
    with Phase("plain serial") as p:
        for module in modules:
            run([NBGRADER, "autograde", module, "--force"], plain)
    p.count = total
    phases.append(p)
    for module in modules:
        reference[module] = scores(plain, module)
    print(f"plain serial: {p.wall:.0f} s", flush=True)

    pattern = SAMPLES[sample]
    graded_sample = [x for x in learners[FIRST] if fnmatch.fnmatch(x, pattern)]
    with Phase("sandboxed serial") as p:
        run([NBGRADER, "autograde", FIRST, "--force", f"--student={pattern}"], root)
    p.count = len(graded_sample)
    phases.append(p)
    same = scores(root, FIRST, graded_sample) == {k: reference[FIRST][k] for k in graded_sample}
    identical &= same
    print(f"sandboxed serial ({p.count}): {p.wall:.0f} s, identical={same}", flush=True)

    for j in jobs:
        name = f"ours, --jobs {j}"
        with Phase(name) as p:
            results = autograding.autograde(root, jobs=j, everything=True, log=lambda *a: None)
        p.count = total
        p.failed = sum(not r.ok for r in results)
        phases.append(p)
        same = all(scores(root, m) == reference[m] for m in modules) and not p.failed
        identical &= same
        print(f"{name}: {p.wall:.0f} s, identical={same}", flush=True)

    return {"about": about, "modules": modules, "phases": phases, "identical": identical, "base": str(base),
            "minutes": (time.monotonic() - started) / 60, "sample": sample, "pattern": pattern,
            "mode": "quick" if args.quick else ("full" if args.full else "default")}


def report(result: dict) -> str:
    about, phases = result["about"], result["phases"]
    plain = phases[0]
    plain_rate = plain.count / plain.wall
    best = max(phases[2:], key=lambda p: p.count / p.wall)
    ratio = (best.count / best.wall) / plain_rate
    modules = ", ".join(f"{n} of {m}" for m, n in result["modules"].items())
    rows = []
    for p in phases:
        rate = p.count / p.wall
        rows.append(f"| {p.name} | {p.count} | {getattr(p, 'failed', 0)} | {p.wall:.1f} | {rate:.2f} | "
                    f"{rate / plain_rate:.2f}x | {p.cpu / p.count:.2f} | {p.others_cores:.2f} | "
                    f"{p.load:.1f} |")
    met = "met" if ratio >= 3 else "NOT met"
    lines = [
        "# Autograding throughput: ours against nbgrader's serial autograde",
        "",
        f"Written by `python bench/autograde.py{' --quick' if result['mode'] == 'quick' else ''}"
        f"{' --full' if result['mode'] == 'full' else ''}` on "
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC in {result['minutes']:.1f} min. "
        f"Course directories: `{result['base']}`.",
        "",
        "| machine | |",
        "| --- | --- |",
        f"| CPU | {about['cores']} cores, {about['cpu']} |",
        f"| RAM | {about['ram_gb']} GB |",
        f"| OS | {about['os']} |",
        f"| Python | {about['python']}; {about['packages']} |",
        f"| run as | {RUN_AS[about['root']]} |",
        f"| code | commit {about['commit']} plus uncommitted work |",
        f"| load average at start | {' / '.join(f'{x:.2f}' for x in about['load_start'])} |",
        "",
        f"Submissions: {modules}; varied answers (each check right with probability 0.6, reflections "
        "written or left), handed in through the exchange as the cohort site does, collected with "
        "`instructor collect`.",
        "",
        f"**Result: {ratio:.1f}x the throughput of plain serial `nbgrader autograde` ({best.name}); "
        f"target 3x {met}. Scores identical cell by cell in every run: "
        f"{'yes' if result['identical'] else 'NO'}.**",
        "",
        "| how | submissions | failed | wall s | submissions/s | vs plain serial | CPU s per submission "
        "| other processes' CPU (cores) | load avg |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        "- **plain serial**: `nbgrader autograde MODULE --force` in a stock directory (the course's shared "
        "`nbgrader_config.py`, stock `python3` kernel, no sandbox): one nbgrader process grades every "
        "submission in turn.",
        f"- **sandboxed serial**: the same command in the instructor's directory, on a representative sample "
        f"of {phases[1].count} submissions (`--student={result['pattern']}`), timed separately from the "
        "rest: each submission's kernel is launched by the sandbox launcher in bubblewrap (its own user id, "
        "namespaces and limits).",
        "- **ours**: `python -m course instructor autograde --all --jobs N`: N worker processes, each holding "
        "one NbGraderAPI and calling its `autograde(module, learner)`, the code `nbgrader autograde` runs, "
        "each kernel in the bubblewrap sandbox, knowledge checks scored from the answers' text and learner "
        "text made inert.",
        "- CPU s per submission counts this process tree as its children are reaped. For plain serial that "
        "includes the kernels. A sandboxed kernel runs in its own process namespace, and its CPU is often not "
        "reaped back into this tree, so for the sandboxed rows the column undercounts, and *other processes' "
        "CPU* (the machine's busy CPU less this tree's) overcounts by the same amount. Compare the rows by "
        "wall time: all ran on the same machine in one run, one after another.",
    ]
    if ratio < 3:
        lines += ["", "**Why the target was not met:** on this run the machine's other processes used "
                      f"{best.others_cores:.1f} cores of {about['cores']} while ours ran, so the parallel "
                      "workers had little spare CPU to use; see *CPU s per submission* for the "
                      "load-independent gain."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="40 submissions, a 20-submission serial sample")
    parser.add_argument("--full", action="store_true", help="also 30 submissions of every other module")
    parser.add_argument("--count", type=int, default=200, help="submissions of Module 1 (default 200)")
    parser.add_argument("--serial-sample", type=int, default=50, choices=sorted(SAMPLES),
                        help="submissions in the sandboxed-serial sample (default 50)")
    parser.add_argument("--jobs", type=int, action="append", help="worker counts to try (default 2, 3, 4)")
    args = parser.parse_args()
    for key in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR", "MPLCONFIGDIR"):
        os.environ.setdefault(key, tempfile.mkdtemp(prefix=f"allies-bench-{key.lower()}-"))
    result = bench(args)
    OUT.write_text(report(result), encoding="utf-8")
    print(OUT.read_text(encoding="utf-8"))
    sandbox.sweep()


if __name__ == "__main__":
    main()
