"""Collect: hand-ins from every path into nbgrader's submitted/ folder. Uploaded files join the exchange as
`nbgrader submit` would leave them; every inbound entry is vetted before nbgrader's collect reads it; a
resubmission made after a learner's feedback is held back unless the instructor takes it."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
from pathlib import Path

from course.grading import state as grading_state
from course.grading.course_dir import Course, api, must_succeed, protect
from course.grading.schedule import set_duedates, set_schedule
from course.lesson import submissions


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
        must_succeed(nbg.collect(module, update=True), f"collect {module}")
        folder = course.root / "submitted"
        collected[module] = sorted(p.parent.name for p in folder.glob(f"*/{module}") if p.is_dir())
        log(f"{module}: {len(collected[module])} submissions collected")
    grading_state.save(course.grading, state)
    protect(course)
    return collected
