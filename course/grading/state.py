"""What the instructor workflow remembers beside nbgrader's gradebook, per module and learner.

- `graded`: the digest of the submission last autograded and whether autograde succeeded, so an unchanged
  submission is not graded again (nbgrader would put its hand grades back to "needs manual grade") and a
  failed one shows as failed in the export;
- `feedback`: when feedback was generated, so a resubmission made after it can be told apart;
- `after_feedback`: "held" (kept out of grading) or "accepted" for such resubmissions;
- `accepted`: the hand-ins after feedback that the instructor let through, never held again;
- `vetted`: the exchange entries already checked before collect (so a held one taken later is not judged
  again by its folder's new change time).

One JSON file in the course directory's private `.grading/` folder, written atomically, private (0600).
Only the instructor's commands write it, from one process.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

FILE = "state.json"
SECTIONS = ("graded", "feedback", "after_feedback", "vetted", "accepted")


def key(module: str, learner: str) -> str:
    return f"{module}/{learner}"


def load(grading_dir: Path) -> dict:
    path = Path(grading_dir) / FILE
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return {name: data.get(name, {}) for name in SECTIONS}


def save(grading_dir: Path, state: dict) -> None:
    path = Path(grading_dir) / FILE
    tmp = path.with_name(f".{FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def digest(folder: Path) -> str:
    """A submission folder's content: every file's name and bytes."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()
