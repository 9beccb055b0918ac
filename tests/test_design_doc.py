"""docs/design.md shows the design with screenshots that `docs/screenshots.py` takes: each image it uses
exists, is a small PNG at most 1000 px wide, and has alt text; every screenshot in docs/design/ is used."""
import re

from PIL import Image

from conftest import ROOT

DOC = ROOT / "docs" / "design.md"
IMAGES = re.compile(r"!\[([^\]]*)\]\((design/[^)]+\.png)\)")


def test_the_design_doc_uses_every_screenshot_and_each_exists_small_with_alt_text():
    used = IMAGES.findall(DOC.read_text(encoding="utf-8"))
    assert len(used) >= 6, "header and index, module page, buttons, citations, focus, 320 px reflow"
    for alt, path in used:
        image = ROOT / "docs" / path
        assert image.is_file(), f"{path} is missing: run .venv/bin/python docs/screenshots.py"
        assert alt.strip(), path
        with Image.open(image) as png:
            assert png.format == "PNG" and png.width <= 1000, (path, png.size)
        assert image.stat().st_size < 250_000, (path, image.stat().st_size)
    taken = {f"design/{p.name}" for p in (ROOT / "docs" / "design").glob("*.png")}
    assert taken == {path for _, path in used}, "every screenshot is in the doc, and only those"


def test_the_screenshot_script_takes_every_image_the_doc_uses():
    script = (ROOT / "docs" / "screenshots.py").read_text(encoding="utf-8")
    names = set(re.findall(r'^\s*save\(.*, "([a-z0-9-]+)"\)$', script, re.M))
    assert {f"design/{n}.png" for n in names} == {path for _, path in IMAGES.findall(DOC.read_text())}
