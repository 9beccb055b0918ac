"""Submit against saving, on the cohort site in headless Chromium: for each learner, the time from typing a
reflection to the page's "Saved at", then from pressing Submit to "Submitted", and the page's kernel memory
(RSS) just before and after Submit. The baseline is the save, measured in the same run on the same pages.
Writes bench/SUBMIT.md.

    python bench/submit.py --learners 10
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from bench import machine, servers  # noqa: E402
from bench.browser import CHROMIUM, FLAGS  # noqa: E402
from bench.stats import fmt, summary  # noqa: E402

OUT = Path(__file__).resolve().parent / "SUBMIT.md"
MODULE = "01-why-men-why-now"
WAIT_MS = 60_000


def one_learner(browser, site: servers.Site, learner: str, code: str) -> dict:
    """Sign in, open the module, type a reflection, then submit; the two times (s) and the kernel's RSS (MB)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{site.base}/login?next=/voila/render/{MODULE}.ipynb")
        page.fill("#learner", learner)
        page.fill("#code", code)
        page.click("button[type=submit]")
        saved = page.locator(".allies-item-m01-r1 > .widget-html").nth(1)
        saved.filter(has_text=re.compile("save as you go")).wait_for(timeout=WAIT_MS)
        kernel = site.kernels()[re.search(r'"kernelId": "([0-9a-f-]{36})"', page.content()).group(1)]
        began = time.monotonic()
        page.locator(".allies-item-m01-r1 textarea").fill(f"{learner}: a reflection typed for the bench.")
        saved.filter(has_text=re.compile("^Saved at")).wait_for(timeout=WAIT_MS)
        save_s = time.monotonic() - began
        before = kernel.memory_info().rss / 2**20
        status = page.locator(".allies-submit .widget-html")
        began = time.monotonic()
        page.get_by_role("button", name="Submit this module for grading").click()
        status.filter(has_text=re.compile("^Submitted")).wait_for(timeout=WAIT_MS)
        submit_s = time.monotonic() - began
        return {"save_s": save_s, "submit_s": submit_s, "rss_before": before,
                "rss_after": kernel.memory_info().rss / 2**20}
    finally:
        context.close()


def report(rows: list[dict], about: dict, args, seconds: float) -> str:
    save, submit = summary([r["save_s"] for r in rows]), summary([r["submit_s"] for r in rows])
    growth = summary([r["rss_after"] - r["rss_before"] for r in rows])
    ratio = submit["median"] / save["median"]
    lines = [
        "# Submit against saving, on the cohort site",
        "",
        f"Written by `python bench/submit.py --learners {args.learners}` on {about['date']} in {seconds:.0f} s. "
        f"Commit {about['commit']} (uncommitted changes in course/ or modules/: "
        f"{', '.join(about['changed']) or 'none'}); {about['cores']} cores, {about['ram_gb']} GB RAM; "
        f"load average at start {' / '.join(f'{x:.2f}' for x in about['loadavg_start'])}.",
        "",
        f"Each of {args.learners} learners signs in to a fresh cohort site (pool 1) in a new headless Chromium "
        f"context, opens `{MODULE}`, types a reflection and waits for the page's \"Saved at\" (this includes "
        "the page's 0.6 s pause before it saves), then presses Submit and waits for \"Submitted\". Memory is "
        "the resident size of that page's kernel process just before and just after Submit.",
        "",
        "| measure | n | median | p95 | min | max |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, s, unit, digits in (("typing to \"Saved at\" (the baseline)", save, " s", 2),
                                  ("Submit to \"Submitted\"", submit, " s", 2),
                                  ("kernel RSS after Submit minus before", growth, " MB", 1)):
        lines.append(f"| {name} | {s['n']} | {fmt(s['median'], unit, digits)} | {fmt(s['p95'], unit, digits)} "
                     f"| {fmt(s['min'], unit, digits)} | {fmt(s['max'], unit, digits)} |")
    lines += ["", f"Median Submit is **{ratio:.2f}×** the median save (bar: at most 3×); the kernel grew by a "
              f"median of **{growth['median']:.1f} MB** over Submit (bar: within 10 MB; max "
              f"{growth['max']:.1f} MB). Kernel RSS before Submit: median "
              f"{statistics.median(r['rss_before'] for r in rows):.0f} MB.",
              "", "What it does not show: Submit with many learners at once, or on a slow disk; the exchange "
              "here is a local folder."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=10)
    args = parser.parse_args(argv)
    about, begun = machine.describe(), time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="allies-submit-"))
    code = servers.snapshot(work)
    env = servers.environment(work, code)
    servers.warm_chart_cache(work, code, env)
    people = sorted(servers.make_roster(work, code, env, args.learners).items())
    site = servers.sites(work, code, env, 1, ["ours"])[0]
    site.start()
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            for learner, access in people:
                rows.append(one_learner(browser, site, learner, access))
                print(learner, {k: round(v, 3) for k, v in rows[-1].items()}, flush=True)
            browser.close()
    finally:
        site.stop()
    OUT.write_text(report(rows, about, args, time.monotonic() - begun), encoding="utf-8")
    print(f"wrote {OUT} (load average at end: {os.getloadavg()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
