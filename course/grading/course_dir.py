"""The instructor's course directory: its settings, its nbgrader configuration and API, and its files kept
private to the grader."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from course.contract import COURSE_ID
from course.grading import sandbox, settings


GRADING_DIR = ".grading"  # inside the course directory: kernelspec, settings, logs (never for learners)
SETTINGS = "course.json"
STEPS = ("source", "release", "submitted", "autograded", "feedback")


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


def must_succeed(result: dict, what: str) -> dict:
    """An NbGraderAPI call's result, or RuntimeError with nbgrader's log when it could not do `what`."""
    if not result.get("success"):
        raise RuntimeError(f"nbgrader could not {what}:\n{result.get('log', '')}\n{result.get('error', '')}")
    return result


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


def write_private(path: Path, data: bytes, owner: tuple[int, int] | None) -> None:
    """Write `data` to `path` at once (a temporary file renamed), readable by its owner only (0600), given to
    `owner` (uid, gid) if one is named."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    if owner:
        os.chown(tmp, *owner)
    os.replace(tmp, path)
