"""The dashboard's charts as files: a PNG and its alt text for each view, in the instance folder."""
from __future__ import annotations

import os
from pathlib import Path

EXPORT_FOLDER = "dashboard"  # INSTANCE/dashboard/<name>.png


def export_png(instance_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write every chart as `<name>.png`, with its alt text beside it as `<name>.alt.txt`, into `out_dir`
    (INSTANCE/dashboard by default, private to its owner). Returns the PNG paths; none without learners."""
    from course.instance import Instance
    from course.web.dashboard import build
    from course.web.dashboard.drawing import draw

    instance = Instance(instance_dir)
    out = Path(out_dir) if out_dir else instance.root / EXPORT_FOLDER
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = []
    for name, chart in draw(build(instance.store)).items():
        path = out / f"{name}.png"
        path.write_bytes(chart.png)
        (out / f"{name}.alt.txt").write_text(f"{chart.alt}\nSource: {chart.source}\n", encoding="utf-8")
        written.append(path)
    return written
