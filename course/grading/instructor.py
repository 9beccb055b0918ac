"""The instructor's side: one grading workflow for both answer paths.

JupyterLab learners hand in with `nbgrader submit` (or upload a file); cohort learners press Submit on the
website, which writes the same exchange layout. From there one nbgrader course directory serves both:

    init      a ready course directory: config, sandboxed grading kernel, gradebook with the roster,
              every module generated (and released to the exchange for JupyterLab learners)
    collect   exchange inbound (both paths) + uploaded files -> submitted/<learner>/<module>/
    autograde every collected submission, in parallel, each in its own sandboxed kernel
    feedback  nbgrader feedback, released to the exchange; a copy per learner for the cohort site
    export    one CSV row per learner and module

Manual grading of reflections stays in formgrader; `set_manual_grade` does what formgrader does, for
scripts and tests.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import stat
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from course.grading import sandbox, scoring, settings
from course.grading import state as grading_state
from course.lesson import submissions
from course import upstream
from course.contract import COURSE_ID
from course.store.roster import Person, RosterError, read as read_roster

GRADING_DIR = ".grading"  # inside the course directory: kernelspec, settings, logs (never for learners)
SETTINGS = "course.json"
STEPS = ("source", "release", "submitted", "autograded", "feedback")
INSTANCE_FEEDBACK = "feedback"  # INSTANCE/feedback/<learner>/<module>.html (+ .json)
# Failures worth grading again: the gradebook busy. (Kernels talk over IPC sockets in private folders, so
# two workers' kernels can never pick the same port.)
TRANSIENT = ("database is locked",)


# -- the course directory ---------------------------------------------------------------------------------

@dataclass
class Course:
    """An instructor's course directory and where its submissions come from."""

    root: Path
    course_id: str = COURSE_ID
    exchange: Path | None = None
    instance: Path | None = None
    modules: list[str] = field(default_factory=list)
    cell_timeout: int = 120
    notebook_timeout: int = 600
    late_penalty: str = "none"
    limits: dict = field(default_factory=dict)

    @property
    def grading(self) -> Path:
        return self.root / GRADING_DIR

    @property
    def jupyter_path(self) -> Path:
        return self.grading / "jupyter"

    @property
    def gradebook(self) -> Path:
        return self.root / "gradebook.db"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.gradebook}"

    def save(self) -> None:
        data = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items() if k != "root"}
        (self.grading / SETTINGS).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, root: str | Path) -> "Course":
        root = Path(root).resolve()
        path = root / GRADING_DIR / SETTINGS
        if not path.is_file():
            raise SystemExit(f"{root} is not a course directory: "
                             f"run `python -m course instructor init {root}`")
        data = json.loads(path.read_text(encoding="utf-8"))
        for key in ("exchange", "instance"):
            data[key] = Path(data[key]) if data.get(key) else None
        return cls(root=root, **data)


def config_text(course: Course) -> str:
    """The course directory's nbgrader_config.py: the course's shared settings plus this directory's."""
    return settings.config_file(course.course_id) + f"""
# -- This course directory (written by `python -m course instructor init`; re-running init rewrites it) --
import os as _os

# The sandboxed grading kernel lives in a Jupyter folder of its own (course/grading/sandbox.py).
_grading_kernels = {str(course.jupyter_path)!r}
if _grading_kernels not in _os.environ.get("JUPYTER_PATH", "").split(_os.pathsep):
    _os.environ["JUPYTER_PATH"] = _os.pathsep.join(
        p for p in (_grading_kernels, _os.environ.get("JUPYTER_PATH")) if p)
c.Execute.kernel_name = {sandbox.KERNEL_NAME!r}
c.Execute.kernel_manager_class = "course.grading.settings.GradingKernelManager"  # IPC: the grading kernel has no network
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:"]
c.Execute.timeout = {course.cell_timeout}  # seconds per cell
c.GuardedExecute.notebook_timeout = {course.notebook_timeout}  # seconds per notebook
c.GuardedExecute.responsive_timeout = {min(10, course.cell_timeout)}  # after a timed-out cell
c.Autograde.autograde_preprocessors = {settings.AUTOGRADE_PREPROCESSORS!r}
c.KernelManager.shutdown_wait_time = 3.0

# Both answer paths hand in here: `nbgrader submit` from JupyterLab and the cohort site's Submit button.
c.Exchange.root = {str(course.exchange)!r}
c.ExchangeCollect.check_owner = False  # the cohort site writes every learner's submission as its own user

# Late work: each module's due date is in the gradebook (`instructor init/collect --duedate`).
c.LateSubmissionPlugin.penalty_method = {course.late_penalty!r}
"""


def load_config(root: str | Path):
    """The configuration `nbgrader` would use in `root` (user and system nbgrader_config.py, then the
    course directory's), except that an error in a config file raises instead of being logged and ignored."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    settings.with_venv_on_path()
    cfg = Config()
    for folder in [*reversed(jupyter_config_path()), str(root)]:
        if os.path.isfile(os.path.join(folder, "nbgrader_config.py")):
            cfg.merge(PyFileConfigLoader("nbgrader_config.py", path=folder).load_config())
    return cfg


def api(root: str | Path):
    """An NbGraderAPI for the course directory, configured as the `nbgrader` command line is there."""
    from nbgrader.apps import NbGraderAPI

    return NbGraderAPI(config=load_config(root))


def _check(result: dict, what: str) -> dict:
    if not result.get("success"):
        raise RuntimeError(f"nbgrader could not {what}:\n{result.get('log', '')}\n{result.get('error', '')}")
    return result


def parse_when(text: str) -> dt.datetime:
    """A date and time as the instructor writes it ('2025-03-01 17:00', ISO 8601, optional zone; UTC if
    none), as a naive UTC datetime, which is how nbgrader's gradebook keeps them."""
    from nbgrader.utils import parse_utc

    return parse_utc(text)


def duedates(pairs: list[str] | None, flag: str = "--duedate") -> dict[str, dt.datetime]:
    """`MODULE=WHEN` pairs from the command line (`flag` names the option in a message)."""
    found = {}
    for pair in pairs or []:
        module, sep, when = pair.partition("=")
        if not sep:
            raise SystemExit(f"{flag} takes MODULE=WHEN, not {pair!r}")
        found[module.strip()] = parse_when(when.strip())
    return found


def set_schedule(course: Course, opens: dict[str, dt.datetime], due: dict[str, dt.datetime]) -> None:
    """Tell the cohort site when modules open and are due: INSTANCE/schedule.json, private to the instance's
    owner. nbgrader keeps due dates (in the gradebook, which the site never reads) but has no opening date; the
    site's index shows both, and offers the return visit only once it is open."""
    from course.contract import SCHEDULE_FILE

    unknown = sorted((set(opens) | set(due)) - set(course.modules))
    if unknown:
        raise SystemExit(f"unknown modules: {', '.join(unknown)} (modules: {', '.join(course.modules)})")
    if not course.instance or not (opens or due):
        return
    path = course.instance / SCHEDULE_FILE
    try:
        schedule = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        schedule = {}
    for key, dates in (("opens", opens), ("due", due)):
        for module, when in dates.items():
            schedule.setdefault(module, {})[key] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    st = course.instance.stat()
    _write_private(path, json.dumps(schedule, indent=1, sort_keys=True).encode("utf-8"), (st.st_uid, st.st_gid))


def set_duedates(course: Course, dates: dict[str, dt.datetime]) -> None:
    from nbgrader.api import Gradebook

    unknown = sorted(set(dates) - set(course.modules))
    if unknown:
        raise SystemExit(f"unknown modules: {', '.join(unknown)} (modules: {', '.join(course.modules)})")
    with Gradebook(course.db_url, course.course_id) as gb:
        for module, when in dates.items():
            gb.update_or_create_assignment(module, duedate=when)


def roster_learners(path: str | Path) -> list[Person]:
    """The learners on a roster file (course/store/roster.py); instructors are left out."""
    try:
        return [person for person in read_roster(path) if person.role == "learner"]
    except RosterError as error:
        raise SystemExit(str(error)) from None


def import_roster(course: Course, learners: list[Person]) -> int:
    """Add or update each learner as an nbgrader student (first/last name split from the display name)."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        for person in learners:
            first, _, last = person.display_name.rpartition(" ")
            if not first:
                first, last = last, ""
            gb.update_or_create_student(person.learner_id, first_name=first or None, last_name=last or None,
                                        email=person.email)
    return len(learners)


def _instance_learners(instance: Path) -> list[Person]:
    from course.instance import Instance
    from course.store.answers import AnswerStore

    store_location = Instance(instance).store
    if isinstance(store_location, Path) and not store_location.exists():
        return []
    with AnswerStore(store_location) as store:
        return [Person(p.learner_id, p.display_name) for p in store.learners() if p.role == "learner"]


def _private(path: Path, mode: int = 0o700) -> None:
    try:
        os.chmod(path, mode)
    except FileNotFoundError:
        pass


def protect(course: Course) -> None:
    """Course directory private to the grader: the gradebook 0600, every step folder 0700. When the exchange
    lives inside the directory, the directory stays enterable (0711) so local learners can reach it."""
    inside = course.exchange is not None and course.exchange.resolve().is_relative_to(course.root)
    _private(course.root, 0o711 if inside else 0o700)
    for name in (*STEPS, GRADING_DIR):
        _private(course.root / name)
    for name in ("gradebook.db", "gradebook.db-wal", "gradebook.db-shm", "nbgrader_config.py"):
        _private(course.root / name, 0o600)


def _sticky(course: Course) -> None:
    """nbgrader leaves the exchange root and inbound writable by everyone (0777, 0733): add the sticky bit,
    so a learner can add a hand-in but never rename or remove the course folder or another's hand-in."""
    for folder in (course.exchange, course.exchange / course.course_id / "inbound"):
        os.chmod(folder, os.stat(folder).st_mode | stat.S_ISVTX)


def _wal(course: Course) -> None:
    """Write-ahead logging: readers never block the graders' writes (fewer 'database is locked')."""
    import sqlite3

    conn = sqlite3.connect(course.gradebook, timeout=60)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()


def init(root: str | Path, roster: str | Path | None = None, course_id: str = COURSE_ID,
         exchange: str | Path | None = None, instance: str | Path | None = None,
         due: dict[str, dt.datetime] | None = None, opens: dict[str, dt.datetime] | None = None,
         late_penalty: str = "none", cell_timeout: int = 120,
         notebook_timeout: int = 600, limits: dict | None = None, modules: list[str] | None = None,
         check: bool = True, log=print) -> Course:
    """Create (or refresh) a ready nbgrader course directory; see the module docstring."""
    from course.grading import release
    from course.paths import folder

    root = Path(root).resolve()
    learners = roster_learners(roster) if roster else None  # a bad roster stops init before it changes anything
    unknown = sorted(set(modules or []) - set(release.module_names()))
    if unknown:
        raise SystemExit(f"unknown modules: {', '.join(unknown)} "
                         f"(modules: {', '.join(release.module_names())})")
    root.mkdir(parents=True, exist_ok=True)
    instance = Path(instance).resolve() if instance else None
    if exchange is None:
        exchange = instance / "exchange" if instance else root / "exchange"
    course = Course(root=root, course_id=course_id, exchange=Path(exchange).resolve(), instance=instance,
                    modules=modules or release.module_names(), cell_timeout=cell_timeout,
                    notebook_timeout=notebook_timeout, late_penalty=late_penalty,
                    limits={**sandbox.LIMITS, **(limits or {})})
    for name in (*STEPS, GRADING_DIR):
        (root / name).mkdir(mode=0o700, exist_ok=True)
    course.save()
    course.exchange.mkdir(parents=True, exist_ok=True)
    warm_chart_cache(course.modules, log=log)
    sandbox.install(course.jupyter_path, course.limits)
    (root / "nbgrader_config.py").write_text(config_text(course), encoding="utf-8")
    protect(course)

    # Sources: a copy of each solutions notebook, so grading keeps to what was released even if authors
    # edit solutions/ later (re-run init to take their changes). nbgrader wants source/<module>/<nb>.ipynb.
    for module in course.modules:
        (root / "source" / module).mkdir(exist_ok=True)
        shutil.copy(folder("solutions") / f"{module}.ipynb", root / "source" / module / f"{module}.ipynb")
    nbg = api(root)
    for module in course.modules:
        _check(nbg.generate_assignment(module, force=True, create=True), f"generate {module}")
    _wal(course)
    if learners is None:
        learners = _instance_learners(instance) if instance else []
    log(f"gradebook: {import_roster(course, learners)} learners on the roster")
    if due:
        set_duedates(course, due)
    set_schedule(course, opens or {}, due or {})
    for module in course.modules:  # JupyterLab learners fetch from the exchange's outbound
        _check(nbg.release_assignment(module), f"release {module} to the exchange")
    (course.exchange / course.course_id / "inbound").mkdir(parents=True, exist_ok=True)
    _sticky(course)
    protect(course)
    log(f"course directory: {root} ({len(course.modules)} modules); exchange: {course.exchange}")
    log(sandbox.describe())
    if check:
        found = check_sandbox(course)
        log("sandbox check: " + ", ".join(f"{k}={v}" for k, v in found.items()))
    return course


def warm_chart_cache(modules: list[str], log=print) -> None:
    """Run each module's learner notebook once, outside the sandbox, so every chart it draws is in the
    course's chart cache (course/lesson/cache.py). Grading kernels see the cache read-only: they reuse the drawings
    instead of importing matplotlib and drawing each submission's charts again."""
    import tempfile

    import nbformat
    from nbclient import NotebookClient

    from course.paths import folder

    folder("cache").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as here:
        for module in modules:
            nb = nbformat.read(folder("modules") / f"{module}.ipynb", as_version=4)
            NotebookClient(nb, kernel_name="python3", timeout=300, allow_errors=True,
                           kernel_manager_class=settings.GradingKernelManager,
                           resources={"metadata": {"path": here}}).execute()
    log(f"chart cache: {folder('cache')} ready for {len(modules)} modules")


# -- the sandbox, checked ---------------------------------------------------------------------------------

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


# -- collect ------------------------------------------------------------------------------------------------

def _stamp_of(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)


def ingest_uploads(course: Course, uploads: str | Path, log=print) -> list[tuple[str, str, str]]:
    """Hand in uploaded files: UPLOADS/<learner>/<module>.ipynb, each submitted at its file's modification
    time (keep it when copying: `cp -p`, `unzip`, `rsync -t`). Each becomes an exchange submission, exactly
    as `nbgrader submit` leaves one, so collect treats all paths alike: every submission is kept, the latest
    is collected. A file handed in before (same learner, module and time) is not added again.
    Returns (learner, module, timestamp) for each file added."""
    added = []
    inbound = course.exchange / course.course_id / "inbound"
    for path in sorted(Path(uploads).glob("*/*.ipynb")):
        learner, module = path.parent.name, path.stem
        if module not in course.modules:
            log(f"uploads: skipped {path} (not a module: {', '.join(course.modules)})")
            continue
        try:
            submissions._segment(learner, "learner id")
            if "+" in learner:
                raise ValueError("'+' is not allowed in a learner id")
            if not (_is_plain(path.parent, stat.S_ISDIR) and _is_plain(path, stat.S_ISREG)):
                raise ValueError("not a plain file in a plain folder (a link, say): not read")
            nb = submissions.read(path)
            nb["cells"]  # noqa: B018 - a notebook at all
        except (ValueError, KeyError, TypeError) as exc:
            log(f"uploads: skipped {path}: {exc}")
            continue
        when = _stamp_of(path)
        stamp = when.strftime(submissions.TIMESTAMP_FORMAT)
        if any(inbound.glob(f"{learner}+{module}+{stamp}+*")):
            continue
        submissions.to_exchange(course.exchange, course.course_id, learner, module, nb, when=when)
        added.append((learner, module, stamp))
    return added


def _is_plain(path: Path, kind) -> bool:
    """Whether `path` is itself (not through a link) a file or folder of `kind` (stat.S_ISREG, S_ISDIR)."""
    try:
        return kind(os.lstat(path).st_mode)
    except OSError:
        return False


MAX_HAND_IN_BYTES = 50 * 2**20
BACKDATED_SECONDS = 300  # a stamp this much older than the folder itself was not written when it says


def _hand_in_problem(course: Course, entry: Path, trusted: set[int]) -> str | None:
    """Why an inbound entry must not reach nbgrader's collect (which runs as the grader and follows links),
    or None. Entries the site or the grader wrote (`trusted` owners) may carry an earlier stamp (uploads keep
    their file's time); anyone else's must be stamped when it was made."""
    import pwd

    from nbgrader.utils import parse_utc

    st = os.lstat(entry)
    if not stat.S_ISDIR(st.st_mode):
        return "not a folder"
    parts = entry.name.split("+")
    if len(parts) != 4 or not all(parts):
        return "not named <learner>+<module>+<time>+<random>"
    learner, module, stamp, _ = parts
    if module not in course.modules:
        return f"not a module of this course ({module})"
    try:
        when = parse_utc(stamp)
    except (ValueError, OverflowError):
        return "its time cannot be read"
    try:
        own = pwd.getpwnam(learner).pw_uid
    except KeyError:
        own = None
    if st.st_uid not in trusted and st.st_uid != own:
        return "handed in by another user than the learner it names"
    if st.st_uid not in trusted:
        made = dt.datetime.fromtimestamp(st.st_ctime, dt.timezone.utc).replace(tzinfo=None)
        if (made - when).total_seconds() > BACKDATED_SECONDS:
            return "stamped earlier than it was handed in"
    size = 0
    for item in os.scandir(entry):
        if not item.is_file(follow_symlinks=False):
            return f"holds {item.name!r}, which is not a plain file (a link, a folder or a device)"
        size += item.stat(follow_symlinks=False).st_size
    if size > MAX_HAND_IN_BYTES:
        return f"larger than {MAX_HAND_IN_BYTES // 2**20} MB"
    return None


def _vet_inbound(course: Course, state: dict, log=print) -> None:
    """Move every inbound entry that nbgrader's collect must not read into .grading/quarantine/ (kept, never
    graded), saying why: links (collect would copy what they point to, as the grader), devices, entries
    handed in under another learner's name or stamped in the past, names collect cannot parse, huge ones."""
    inbound = course.exchange / course.course_id / "inbound"
    trusted = {os.geteuid()} | ({course.instance.stat().st_uid} if course.instance else set())
    quarantine = course.grading / "quarantine"
    for entry in sorted(inbound.iterdir()):
        if entry.name.startswith(".") or entry.name in state["vetted"]:  # being written, or seen before
            continue
        problem = _hand_in_problem(course, entry, trusted)
        if not problem:
            state["vetted"][entry.name] = True
        else:
            quarantine.mkdir(mode=0o700, exist_ok=True)
            os.rename(entry, quarantine / f"{entry.name}.{os.urandom(4).hex()}")
            log(f"collect: {entry.name!r} not collected ({problem}); kept in {quarantine}")


def _hold_after_feedback(course: Course, module: str, state: dict, allow: bool, log=print) -> None:
    """Resubmissions made after a learner's feedback was generated (it explains the right answers) are kept
    out of collect, in .grading/held/, unless `allow`; then they, and any held before, are taken. Either
    way the export says so."""
    from nbgrader.utils import parse_utc

    inbound = course.exchange / course.course_id / "inbound"
    held = course.grading / "held"
    if allow:
        for path in sorted(held.glob(f"*+{module}+*")):
            shutil.move(str(path), str(inbound / path.name))
            log(f"{module}: taking {path.name.split('+')[0]}'s hand-in made after feedback")
    for path in sorted(inbound.glob(f"*+{module}+*")):
        if path.name in state["accepted"]:  # let through once: stays taken
            continue
        learner, _, stamp = path.name.split("+")[:3]
        given = state["feedback"].get(grading_state.key(module, learner))
        made = dt.datetime.fromtimestamp(path.stat().st_ctime, dt.timezone.utc).replace(tzinfo=None)
        if not given or max(parse_utc(stamp), made) <= parse_utc(given):
            continue
        state["after_feedback"][grading_state.key(module, learner)] = "accepted" if allow else "held"
        if allow:
            state["accepted"][path.name] = True
        else:
            held.mkdir(mode=0o700, exist_ok=True)
            shutil.move(str(path), str(held / path.name))
            log(f"{module}: {learner} resubmitted after feedback; held in {held} "
                "(collect --allow-after-feedback takes it)")


def collect(root: str | Path, modules: list[str] | None = None, uploads: str | Path | None = None,
            due: dict[str, dt.datetime] | None = None, allow_after_feedback: bool = False,
            opens: dict[str, dt.datetime] | None = None, log=print) -> dict[str, list[str]]:
    """Uploaded files into the exchange, then `nbgrader collect` for each module: the latest submission of
    each learner lands in submitted/<learner>/<module>/ with its timestamp.txt. A submission made after the
    learner's feedback is held back unless `allow_after_feedback`. Returns the learners with a collected
    submission, per module."""
    course = Course.load(root)
    modules = modules or course.modules
    if due:
        set_duedates(course, due)
    set_schedule(course, opens or {}, due or {})
    if uploads:
        added = ingest_uploads(course, uploads, log=log)
        log(f"uploads: {len(added)} new submissions from {uploads}")
    nbg = api(course.root)
    state = grading_state.load(course.grading)
    collected = {}
    (course.exchange / course.course_id / "inbound").mkdir(parents=True, exist_ok=True)
    _vet_inbound(course, state, log=log)
    for module in modules:
        _hold_after_feedback(course, module, state, allow_after_feedback, log=log)
        _check(nbg.collect(module, update=True), f"collect {module}")
        folder = course.root / "submitted"
        collected[module] = sorted(p.parent.name for p in folder.glob(f"*/{module}") if p.is_dir())
        log(f"{module}: {len(collected[module])} submissions collected")
    grading_state.save(course.grading, state)
    protect(course)
    return collected


# -- autograde, in parallel -------------------------------------------------------------------------------

@dataclass
class Graded:
    module: str
    learner: str
    ok: bool
    seconds: float
    attempts: int = 1
    error: str = ""


_WORKER = {}


def _busy_timeout(seconds: float = 60.0) -> None:
    """Every SQLite connection this process opens waits for a lock instead of failing at once."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _set(dbapi_connection, _record):  # noqa: ANN001
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            dbapi_connection.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")


def _worker_start(root: str, log_dir: str) -> None:
    os.chdir(root)
    fd = os.open(os.path.join(log_dir, f"worker-{os.getpid()}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                 0o600)
    os.dup2(fd, 2)  # kernel and nbgrader chatter goes to the worker's log, not the instructor's terminal
    sys.stderr = os.fdopen(2, "w", buffering=1)
    _busy_timeout()
    _fast_schema_checks()
    _WORKER["api"] = api(root)
    _WORKER["logs"] = log_dir


def _fast_schema_checks() -> None:
    """nbgrader checks each cell's metadata with `jsonschema.validate`, which first re-checks the schema
    itself, every cell, twice per submission. Check against a validator built once instead: the same
    errors (jsonschema's best match) for the same metadata, without the repeated schema check."""
    import jsonschema
    from jsonschema.exceptions import best_match
    from nbgrader.nbgraderformat import common

    validators = {}

    def validate(instance, schema, *args, **kwargs):
        if args or kwargs:
            return jsonschema.validate(instance, schema, *args, **kwargs)
        key = json.dumps(schema, sort_keys=True)
        if key not in validators:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validators[key] = cls(schema)
        error = best_match(validators[key].iter_errors(instance))
        if error is not None:
            raise error

    upstream.swap_schema_validation(common, validate)


def _grade(module: str, learner: str, attempts: int = 6) -> Graded:
    """One submission in a worker: nbgrader's own autograde, retried when the gradebook was busy."""
    import random

    start = time.monotonic()
    result = {}
    for attempt in range(1, attempts + 1):
        result = _WORKER["api"].autograde(module, learner, force=True, create=False)
        text = f"{result.get('log', '')}\n{result.get('error', '')}"
        if result.get("success") or not any(cause in text for cause in TRANSIENT):
            break
        time.sleep(random.uniform(0.2, 1.0) * attempt)
    log = Path(_WORKER["logs"], f"{module}+{learner}.log")
    log.write_text(f"{result.get('log', '')}\n{result.get('error', '')}", encoding="utf-8")
    return Graded(module, learner, bool(result.get("success")), time.monotonic() - start, attempt,
                  "" if result.get("success") else (result.get("error") or result.get("log") or "")[-2000:])


def submitted(course: Course, modules: list[str], learners: list[str] | None = None) -> list[tuple[str, str]]:
    """(module, learner) for every collected submission, modules interleaved so workers share them out."""
    work = []
    for module in modules:
        for path in sorted((course.root / "submitted").glob(f"*/{module}")):
            if path.is_dir() and (learners is None or path.parent.name in learners):
                work.append((module, path.parent.name))
    return sorted(work, key=lambda w: (w[1], w[0]))


def _add_unknown_learners(course: Course, learners: set[str]) -> None:
    """Learners who handed in but are not on the roster, added before the workers start (several workers
    adding the same learner at once would collide on the gradebook's unique key)."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        known = {s.id for s in gb.students}
        for learner in sorted(learners - known):
            gb.add_student(learner)


def default_jobs() -> int:
    """Workers: twice the cores, as each spends about half its time waiting for its kernel (start-up,
    messages); fewer if memory is short (a worker and its kernel take about 0.4 GB)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        with open("/proc/meminfo") as fh:
            available = next(int(line.split()[1]) for line in fh if line.startswith("MemAvailable")) / 2**20
    except (OSError, StopIteration):
        available = 4.0
    return max(1, min(2 * cores, int(available / 0.5)))


def autograde(root: str | Path, modules: list[str] | None = None, jobs: int | None = None,
              learners: list[str] | None = None, everything: bool = False, log=print) -> list[Graded]:
    """Autograde collected submissions (of `modules`, or all), `jobs` at a time: those that are new, changed
    since they were last graded, or failed then; with `everything`, all of them. An unchanged submission is
    left alone, so its hand grades stay as they are (nbgrader's autograde would mark them for review again).

    Each worker process holds one NbGraderAPI, configured from the course directory as `nbgrader` is, and
    calls its `autograde(module, learner)`: the very code `nbgrader autograde` runs, so scores are the same.
    Workers share the SQLite gradebook (write-ahead log, a 60 s busy timeout, and a retry of the whole
    submission if nbgrader still reports the database locked). A submission that fails does not stop the
    others; failures are returned, kept for the export, and each submission's log is in
    .grading/logs/autograde/<module>+<learner>.log."""
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor, as_completed

    course = Course.load(root)
    state = grading_state.load(course.grading)
    digests = {(m, who): grading_state.digest(course.root / "submitted" / who / m)
               for m, who in submitted(course, modules or course.modules, learners)}
    work = [w for w, d in digests.items()
            if everything or state["graded"].get(grading_state.key(*w), {}) != {"digest": d, "ok": True}]
    log_dir = course.grading / "logs" / "autograde"
    log_dir.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(jobs or default_jobs(), len(work) or 1))
    unchanged = len(digests) - len(work)
    log(f"autograding {len(work)} submissions with {jobs} workers"
        + (f" ({unchanged} unchanged since graded: left as they are)" if unchanged else "")
        + f"; {sandbox.describe()}")
    results = []
    settings.with_venv_on_path()
    if work:
        _add_unknown_learners(course, {who for _, who in work})
        # Workers are forked from this process, unless it runs other threads (a test session's browser,
        # say) that a fork would copy mid-flight: then from a fresh fork server.
        if threading.active_count() == 1:
            context = multiprocessing.get_context("fork")
        else:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["course.grading.instructor", "nbgrader.apps", "nbgrader.api"])
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_start,
                                 initargs=(str(course.root), str(log_dir))) as pool:
            futures = [pool.submit(_grade, module, learner) for module, learner in work]
            for future in as_completed(futures):
                graded = future.result()
                results.append(graded)
                state["graded"][grading_state.key(graded.module, graded.learner)] = {
                    "digest": digests[graded.module, graded.learner], "ok": graded.ok}
                if not graded.ok:
                    log(f"FAILED {graded.module} {graded.learner}: see {log_dir}/{graded.module}+"
                        f"{graded.learner}.log")
        grading_state.save(course.grading, state)
    sandbox.sweep()
    protect(course)
    ok = sum(g.ok for g in results)
    log(f"autograded {ok} of {len(results)} submissions")
    return sorted(results, key=lambda g: (g.module, g.learner))


# -- manual grades, feedback, export -----------------------------------------------------------------------

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


def _write_private(path: Path, data: bytes, owner: tuple[int, int] | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    if owner:
        os.chown(tmp, *owner)
    os.replace(tmp, path)


# What the site adds to nbgrader's feedback page so it meets WCAG 2.1 AA: links told apart from text by an
# underline and at 4.5:1 on its grey panels (white on a cell's blue heading), code comments at 4.5:1, and
# code that wraps instead of running off a narrow window (1.4.10 reflow at 320 px), so that no code block is
# a region that scrolls but cannot be reached by keyboard.
FEEDBACK_STYLE = ("<style>a{color:#1f5a8f;text-decoration:underline}div.nbgrader_cell .panel-heading a{color:#fff}"
                  ".highlight .c1,.highlight .c,.highlight .cm{color:#2f6262}"
                  "pre{white-space:pre-wrap;overflow-wrap:anywhere;overflow:visible}"
                  "img{max-width:100%;height:auto}</style>")


def _for_the_site(page: str) -> bytes:
    """nbgrader's feedback page for the cohort site: in English (`lang`), with FEEDBACK_STYLE, and without
    its script elements (MathJax from a CDN, and the template's own): the site shows it in a sandbox that
    runs no scripts, so they would only reach out."""
    import re

    page = re.sub(r"<script\b.*?</script\s*>", "", page, flags=re.S | re.I)
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
        _check(nbg.generate_feedback(module), f"generate feedback for {module}")
        given = dt.datetime.now(dt.timezone.utc).strftime(submissions.TIMESTAMP_FORMAT)
        for learner in learners:
            state["feedback"].setdefault(grading_state.key(module, learner), given)
        released = 0
        for learner in learners:
            folder = course.root / "feedback" / learner / module
            if (folder / "submission_secret.txt").exists():  # handed in with `nbgrader submit`
                _check(nbg.release_feedback(module, learner), f"release feedback for {learner} {module}")
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
                    dest = course.instance / INSTANCE_FEEDBACK / learner
                    _write_private(dest / f"{module}.html", _for_the_site(page.read_text(encoding="utf-8")),
                                   owner)
                    _write_private(dest / f"{module}.json", json.dumps(about).encode(), owner)
                    if owner:
                        for folder in (dest, dest.parent):
                            os.chown(folder, *owner)
        done[module] = learners
        log(f"{module}: feedback for {len(learners)} learners ({released} released to the exchange"
            + (f", {len(learners)} on the cohort site" if course.instance else "") + ")")
    grading_state.save(course.grading, state)
    protect(course)
    return done


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


def grades(root: str | Path) -> list[dict]:
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
    rows = grades(root)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
