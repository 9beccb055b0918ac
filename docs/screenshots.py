"""Take the screenshots in docs/design.md from the real public site, in Debian's Chromium.

    .venv/bin/python docs/screenshots.py          # rewrites docs/design/*.png

Starts `python -m course serve` on a free port with a throw-away instance, opens the pages a learner sees and
saves each view as a PNG at most 1000 px wide, reduced to a 128-colour palette so the images stay small."""
from __future__ import annotations

import io
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "design"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
WIDTH = 1000  # px: the widest a screenshot is kept
MODULE_1, MODULE_4, MODULE_6 = ("01-why-men-why-now.ipynb", "04-backlash-and-zero-sum.ipynb",
                                "06-from-learning-to-leading.ipynb")


def save(png: bytes, name: str) -> None:
    """Write `png` as docs/design/<name>.png: scaled down to WIDTH, 128 colours, optimised."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > WIDTH:
        image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.LANCZOS)
    OUT.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=128).save(OUT / f"{name}.png", optimize=True)
    print(f"docs/design/{name}.png", image.size)


def serve(instance: Path) -> tuple[subprocess.Popen, str]:
    """The public site on a free port, answering; returns (process, base URL)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "course", "serve", "--no-browser", "--instance", str(instance),
                             "--pool-size", "0", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(base + "/", timeout=5)
            return proc, base
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("the site did not start")
            time.sleep(0.3)


def module(context, base: str, name: str, width: int = WIDTH):
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 760})
    page.goto(f"{base}/voila/render/{name}", timeout=120_000)
    expect(page.locator("body")).to_have_attribute("data-allies-page", "ready", timeout=120_000)
    return page


def shoot(base: str, browser) -> None:
    context = browser.new_context()
    index = context.new_page()
    index.set_viewport_size({"width": WIDTH, "height": 760})
    index.goto(base + "/")
    save(index.screenshot(), "index")

    page = module(context, base, MODULE_1)
    save(page.screenshot(), "module-top")
    explorer = page.locator(".allies-explorer").nth(1)  # toggle buttons, one pressed, and a chart
    explorer.scroll_into_view_if_needed()
    explorer.locator(".widget-toggle-button").nth(1).click()
    expect(explorer.locator(".widget-toggle-button").nth(1)).to_have_attribute("aria-pressed", "true")
    expect(explorer.locator(".allies-chart img").filter(visible=True)).to_have_count(1)  # drawn on demand
    save(explorer.screenshot(), "explorer")
    pager = page.locator(".allies-pager")
    pager.scroll_into_view_if_needed()
    save(pager.screenshot(), "pager")
    page.close()

    page = module(context, base, MODULE_4)
    citation = page.locator(".allies-explorer figcaption").first
    citation.scroll_into_view_if_needed()
    citation.locator(".allies-cite summary").first.click()  # the short source, opened to the full reference
    save(page.locator(".allies-explorer").first.screenshot(), "citation")
    page.close()

    page = module(context, base, MODULE_6)
    select = page.locator(".allies-plan select").first
    select.scroll_into_view_if_needed()
    select.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focus by keyboard, so :focus-visible shows the ring
    box = select.bounding_box()
    save(page.screenshot(clip={"x": 0, "y": max(0, box["y"] - 120), "width": WIDTH, "height": 300}), "focus")
    page.close()

    page = module(context, base, MODULE_1, width=320)
    page.locator(".allies-explorer").first.scroll_into_view_if_needed()
    save(page.screenshot(), "reflow-320")
    page.close()
    context.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="allies-shots-") as tmp:
        proc, base = serve(Path(tmp) / "instance")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
                shoot(base, browser)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(20)


if __name__ == "__main__":
    main()
