"""Generate the learner notebooks in `modules/` from the instructor sources in `solutions/` with nbgrader."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from course.paths import folder
from course.lesson.timing import title  # noqa: F401  (kernel-safe; re-exported for the servers and tests)

GENERATED_BY = "python -m course release"


def module_names() -> list[str]:
    """The modules in course order, named by their solutions notebook (e.g. '01-why-men-why-now')."""
    return sorted(p.stem for p in folder("solutions").glob("[0-9][0-9]-*.ipynb"))


def generate(dest: Path | None = None, names: list[str] | None = None) -> list[Path]:
    """Run nbgrader's generate_assignment on each solutions notebook; write the results to `dest`."""
    from nbgrader.apps import NbGraderAPI

    from course.grading import settings

    settings.with_venv_on_path()
    dest = dest or folder("modules")
    dest.mkdir(parents=True, exist_ok=True)
    names = names or module_names()
    written = []
    with tempfile.TemporaryDirectory(prefix="allies-release-") as tmp:
        root = Path(tmp)
        for name in names:
            (root / "source" / name).mkdir(parents=True)
            shutil.copy(folder("solutions") / f"{name}.ipynb", root / "source" / name / f"{name}.ipynb")
        api = NbGraderAPI(config=settings.config(root))
        for name in names:
            result = api.generate_assignment(name, force=True, create=True)
            if not result["success"]:
                raise RuntimeError(f"nbgrader could not release {name}:\n{result['log']}\n{result.get('error', '')}")
            nb = json.loads((root / "release" / name / f"{name}.ipynb").read_text(encoding="utf-8"))
            nb["metadata"]["allies"] = {"generated_by": GENERATED_BY, "source": f"solutions/{name}.ipynb"}
            out = dest / f"{name}.ipynb"
            out.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            written.append(out)
    return written


def stale() -> list[str]:
    """The modules whose committed learner notebook differs from a fresh release of its source."""
    with tempfile.TemporaryDirectory(prefix="allies-check-") as tmp:
        generate(Path(tmp))
        return [name for name in module_names()
                if not (folder("modules") / f"{name}.ipynb").is_file()
                or (Path(tmp) / f"{name}.ipynb").read_bytes()
                != (folder("modules") / f"{name}.ipynb").read_bytes()]
