"""The dashboard's charts as files: a PNG and its alt text for each view, in a folder or in one ZIP file."""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

EXPORT_FOLDER = "dashboard"  # INSTANCE/dashboard/<name>.png


def chart_files(drawn: dict) -> dict[str, bytes]:
    """Each chart `draw` drew (by view name) as `<name>.png`, with its alt text and source as `<name>.alt.txt`."""
    files = {}
    for name, chart in drawn.items():
        files[f"{name}.png"] = chart.png
        files[f"{name}.alt.txt"] = f"{chart.alt}\nSource: {chart.source}\n".encode("utf-8")
    return files


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
    for name, content in chart_files(draw(build(instance.store))).items():
        (out / name).write_bytes(content)
        written.append(out / name)
    return [path for path in written if path.suffix == ".png"]


def charts_zip(files: dict[str, bytes]) -> bytes:
    """`files` (from `chart_files`) as one ZIP file, for the dashboard page to offer as a download."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()
