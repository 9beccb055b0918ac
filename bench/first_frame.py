"""Where a module page's first chart time spreads from: one page as a running site serves it, loaded cold in
Chromium again and again, interleaved with variants of it, so that each variant meets the same machine.

    python -m course serve --port 9050 --no-browser --instance /tmp/inst   # in another shell
    python bench/first_frame.py --base http://127.0.0.1:9050 --module 05-behind-the-veil.ipynb --loads 40

Variants of the page (its document is answered from memory, its other files by the site):
  - served: the page as served;
  - again: the same bytes a second time, so the spread between two runs of one page shows;
  - blocked: first paint held until the first chart is parsed (`<link rel="expect" blocking="render">`);
    only on a page with a chart;
  - floor: the page's first chart (if any) and a <select> alone (`bench/floor.page`).
Prints, per variant, `first` (bench/probe.js) as median, 75th percentile and maximum in ms, how many loads
took over 150 ms, and the median first contentful paint.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import urllib.request
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.async_api import async_playwright  # noqa: E402

from bench import browser as chrome  # noqa: E402
from bench import floor, stats  # noqa: E402

CHART = re.compile(r'<figure class="allies-chart">.*?</figure>', re.S)
SLOW_MS = 150


def variants(served: str, title: str) -> dict[str, str]:
    chart = CHART.search(served)
    pages = {"served": served, "again": served}
    if chart:
        blocked = served.replace('<figure class="allies-chart">', '<figure class="allies-chart" id="first-chart">', 1)
        pages["blocked"] = blocked.replace(
            "</head>", '<link rel="expect" href="#first-chart" blocking="render"></head>', 1)
    pages["floor"] = floor.page(title, {"chart": chart and chart.group(0), "control": None})
    return pages


def expect(served: str) -> str:
    """What `first` waits for (bench/probe.js): a loaded chart, if the page has one, and a control."""
    return json.dumps({"chart": bool(CHART.search(served)), "explorers": 1, "radios": 0, "textareas": 0})


async def load(browser, url: str, document: str, expected: str) -> tuple[float, float]:
    """One cold load of `url` answered with `document`: (first, first contentful paint) in ms."""
    context = await browser.new_context()
    await context.route(url, lambda route: route.fulfill(status=200, body=document,
                                                         content_type="text/html; charset=utf-8"))
    page = await context.new_page()
    await page.add_init_script(f"window.__benchExpect = {expected};")
    await page.add_init_script(chrome.PROBE)
    await page.goto(url, wait_until="commit")
    await page.wait_for_function("window.__bench.first !== null"
                                 " && performance.getEntriesByName('first-contentful-paint').length > 0")
    first, fcp = await page.evaluate(
        "[window.__bench.first, performance.getEntriesByName('first-contentful-paint')[0].startTime]")
    await context.close()
    return first, fcp


async def main(base: str, module: str, loads: int) -> None:
    url = f"{base}/voila/render/{module}"
    served = urllib.request.urlopen(url, timeout=120).read().decode("utf-8")
    pages = variants(served, module.removesuffix(".ipynb"))
    results = {name: [] for name in pages}
    async with async_playwright() as playwright:
        browser = await chrome.launch(playwright)
        expected = expect(served)
        await load(browser, url, served, expected)  # (unmeasured: the browser's own first start)
        for _ in range(loads):
            for name, document in pages.items():
                results[name].append(await load(browser, url, document, expected))
        await browser.close()
    print(f"{module}, {loads} cold loads of each, interleaved\n")
    print("| variant | first: median | 75th percentile | max | over 150 ms | first contentful paint: median |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, rows in results.items():
        first = [row[0] for row in rows]
        print(f"| {name} | {stats.fmt(stats.percentile(first, 50))} | {stats.fmt(stats.percentile(first, 75))} "
              f"| {stats.fmt(max(first))} | {sum(f > SLOW_MS for f in first)} "
              f"| {stats.fmt(stats.percentile([row[1] for row in rows], 50))} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:9050")
    parser.add_argument("--module", default="05-behind-the-veil.ipynb")
    parser.add_argument("--loads", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(main(args.base.rstrip("/"), args.module, args.loads))
