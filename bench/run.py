"""Measure the course's cohort site against plain Voilà on this machine; write bench/RESULTS.md.

    python bench/run.py            # the full run (about 30 minutes with two modules)
    python bench/run.py --quick    # a smoke check (about 2 minutes): few repetitions, one short load level
    python bench/run.py --code DIR --sites ours --rates 60,100   # try a patched copy of the course

Figures: (1) navigation to a usable module page, cold and warm browser cache; (2) slider key press to the
new chart on screen; (3) resident memory of each page's kernel; (4) learners arriving at 30–150 a minute.
Sites are measured one at a time, each freshly started, all traffic to 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

from bench import browser as chrome  # noqa: E402
from bench import floor, inline, load, machine, report, servers  # noqa: E402

PRESETS = {
    "full": {"cold": 10, "warm": 10, "moves": 20, "rates": [30, 60, 100, 150], "window": 60.0,
             "deadline": 30.0, "browser_every": 10, "modules": 0, "pool": 3,
             "sites": "ours,plain,plain-pre,inline,floor"},
    "quick": {"cold": 2, "warm": 1, "moves": 5, "rates": [30], "window": 10.0, "deadline": 20.0,
              "browser_every": 5, "modules": 1, "pool": 2, "sites": "ours,plain,floor"},
}
# The reference module (--module; by default module 01, the first after the orientation) is measured first.
# Warm-cache loads, the extra site plain Voilà preheated, and the load test use only the reference module
# (every module's page loads the same JS and CSS): that keeps a full run with 7 modules near 45 minutes.
FIRST_MODULE_ONLY = {"plain-pre"}  # and the inline-matplotlib site, which serves only its own notebook
IDLE_TIMEOUT_S = 30.0  # how long a floor load waits for our site to go idle before it goes ahead


def in_order(modules: list[str], reference: str | None) -> list[str]:
    """The modules with the reference module first (named, else the first numbered 01, else the first)."""
    chosen = reference or next((m for m in modules if m.startswith("01-")), modules[0] if modules else None)
    if chosen not in modules:
        raise SystemExit(f"no module {chosen!r} among {modules}")
    return [chosen, *(m for m in modules if m != chosen)]


def kernel_memory(site: servers.Site, kernel: str | None) -> dict | None:
    """RSS and USS (MB) of one kernel process of `site`, and the CPU seconds it has used."""
    proc = site.kernels().get(kernel or "")
    if proc is None:
        return None
    try:
        info, cpu = proc.memory_full_info(), proc.cpu_times()
    except psutil.Error:
        return None
    return {"rss": info.rss / 2**20, "uss": info.uss / 2**20, "cpu_s": cpu.user + cpu.system}


async def measured_load(context, site, module: str, expect: dict) -> dict:
    """One measured page load in `context`: usable time and breakdown, then the kernel's memory; the page
    is closed and its kernel shut down."""
    await asyncio.to_thread(site.wait_idle)
    page, record = await chrome.load(context, site, module, expect)
    if record["ok"]:
        await asyncio.sleep(0.5)
        record["memory"] = kernel_memory(site, record["kernel"])
    await page.close()
    record["shutdown"] = await chrome.shutdown_kernel(site, context, record.get("kernel"))
    return record


async def cold_loads(browser, site, module: str, expect: dict, learners, n: int,
                     pair: tuple | None = None) -> tuple[list[dict], list[dict]]:
    """`n` loads, each in a fresh browser context (empty cache), signed in as a different learner; after
    three pages in a row that never became usable, the rest are recorded as skipped. With `pair` (the floor's
    site and what its page shows), each load is followed by a cold load of the floor's page for the same
    module, once our site is idle again, so that the two meet the machine as it is in the same minute;
    returns both lists."""
    records, paired = [], []
    for _ in range(n):
        if len(records) >= 3 and not any(r["ok"] for r in records[-3:]):
            records.append({"module": module, "ok": False, "error": "skipped after 3 failures in a row"})
            continue
        context = await chrome.new_context(browser, site, next(learners))
        records.append(await measured_load(context, site, module, expect))
        await context.close()
        if pair:
            floor_site, floor_expect = pair
            # (not while our site shuts the page's kernel down; recorded, as the wait gives up after a while)
            waited = await asyncio.to_thread(site.wait_idle, timeout=IDLE_TIMEOUT_S)
            context = await chrome.new_context(browser, floor_site, None)
            paired.append({**await measured_load(context, floor_site, module, floor_expect),
                           "ours_idle": {"waited_s": waited, "reached": waited < IDLE_TIMEOUT_S}})
            await context.close()
    return records, paired


async def warm_loads(browser, site, module: str, expect: dict, learners, n: int) -> list[dict]:
    """`n` loads in one browser context after one unmeasured load has filled its cache."""
    if n < 1:
        return []
    context = await chrome.new_context(browser, site, next(learners))
    await measured_load(context, site, module, expect)
    records = [await measured_load(context, site, module, expect) for _ in range(n)]
    await context.close()
    return records


async def slider(browser, site, module: str, expect: dict, learners, moves: int) -> dict:
    """Slider key presses on a loaded page of `module` (none if it has no slider)."""
    context = await chrome.new_context(browser, site, next(learners))
    await asyncio.to_thread(site.wait_idle)
    page, record = await chrome.load(context, site, module, expect)
    result = await chrome.slider_moves(page, moves) if record["ok"] else {"times": [], "failed": moves,
                                                                          "error": record.get("error")}
    await page.close()
    await chrome.shutdown_kernel(site, context, record.get("kernel"))
    await context.close()
    return result


def floor_expect(found: dict, chart: dict) -> dict:
    """What the floor's page counts as shown: what it was found to show, and the chart if the module has one."""
    return {**{k: found[k] for k in ("explorers", "charted", "radios", "textareas")}, "widgets": 0, **chart}


async def measure_site(browser, site, modules: list[str], expect: dict, learners, opts: dict, bg,
                       charted: dict[str, bool], floor_site=None) -> dict:
    """Figures 1–3 for one freshly started site; `charted`: whether each module shows a chart. With
    `floor_site`, the floor's page for each module is loaded cold after each of the site's cold loads."""
    bg.mark(f"pages: {site.key}")
    out = {"label": site.label, "startup": await asyncio.to_thread(site.start), "modules": {}}
    try:
        if floor_site:
            await asyncio.to_thread(floor_site.start)
        pages = ([inline.NOTEBOOK] if site.key == "inline" else
                 modules[:1] if site.key in FIRST_MODULE_ONLY else modules)
        for number, module in enumerate(pages):
            context = await chrome.new_context(browser, site, next(learners))
            found = await chrome.discover(context, site, module)
            await context.close()
            counted = {k: found[k] for k in ("explorers", "charted", "radios", "textareas")}
            chart = {"chart": charted[module]}  # the first-chart milestone waits for a chart if the module has one
            want = (floor_expect(found, chart) if site.key == "floor" else
                    expect.setdefault(module, {**counted, "widgets": min(found["widgets"], 1), **chart}))
            print(f"  {site.key} {module}: found {found}; usable means {want}", flush=True)
            pair = None
            if floor_site:
                context = await chrome.new_context(browser, floor_site, None)
                shows = await chrome.discover(context, floor_site, module)
                await context.close()
                pair = (floor_site, floor_expect(shows, chart))
            cold, floor_cold = await cold_loads(browser, site, module, want, learners, opts["cold"], pair)
            out["modules"][module] = {
                "found": found,
                "cold": cold,
                "floor_interleaved": floor_cold,
                "warm": await warm_loads(browser, site, module, want, learners, 0 if number else opts["warm"]),
                "slider": await slider(browser, site, module, want, learners, opts["moves"]),
            }
            print(f"  {site.key} {module}: {report.brief(out['modules'][module])}", flush=True)
        await asyncio.to_thread(site.wait_idle)
        out["idle_kernels"] = [kernel_memory(site, k) for k in site.kernels()]
        out["server_rss"] = site.tree()[0].memory_info().rss / 2**20 if site.tree() else None
    finally:
        site.stop()
        if floor_site:
            floor_site.stop()
        out["log_events"] = site.log_events()
    return out


async def load_levels(browser, sites: list, module: str, expect: dict, learners: list, opts: dict,
                      bg) -> list:
    """Figure 4: every rate against every site, each level on a freshly started server."""
    levels = []
    for rate in opts["rates"]:
        for site in sites:
            bg.mark(f"load {rate}/min: {site.key}")
            startup = await asyncio.to_thread(site.start)
            try:
                level = await load.run_level(site, rate, module, learners if site.signed_in else [],
                                             browser if opts["browser_every"] else None, expect,
                                             window=opts["window"], deadline=opts["deadline"],
                                             browser_every=opts["browser_every"])
            finally:
                site.stop()
            level.update(site=site.key, label=site.label, startup=startup, log_events=site.log_events())
            levels.append(level)
            print(f"  load {rate}/min {site.key}: {report.brief_level(level)}", flush=True)
    return levels


def options(argv) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke check (about 2 minutes)")
    parser.add_argument("--sites", help="which of ours, plain, plain-pre, inline, floor (default: all; --quick: "
                                        "ours,plain,floor)")
    parser.add_argument("--rates", help="arrivals per minute for the load test, e.g. 30,60,100,150")
    parser.add_argument("--cold", type=int, help="cold-cache page loads per module and site")
    parser.add_argument("--warm", type=int, help="warm-cache page loads per module and site")
    parser.add_argument("--moves", type=int, help="slider moves per module and site")
    parser.add_argument("--pool", type=int, help="preheated kernels per module (cohort site and plain-pre)")
    parser.add_argument("--no-load", action="store_true", help="skip the load test")
    parser.add_argument("--new-views", action="store_true",
                        help="fill the chart cache with each page's first views only, so a slider move draws "
                             "its chart in the kernel (measure one course site only: it fills the cache)")
    parser.add_argument("--browser-every", type=int, help="in the load test, one learner in this many is a "
                                                          "real browser (0: none; default 10)")
    parser.add_argument("--module", help="the reference module (default: the one numbered 01)")
    parser.add_argument("--code", help="measure this copy of the course (a folder holding course/, modules/ "
                                       "and data/) instead of a snapshot of the repository")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "RESULTS.md"))
    args = parser.parse_args(argv)
    opts = dict(PRESETS["quick" if args.quick else "full"], mode="quick" if args.quick else "full")
    for key in ("cold", "warm", "moves", "pool", "browser_every"):
        if getattr(args, key) is not None:
            opts[key] = getattr(args, key)
    if args.rates:
        opts["rates"] = [int(r) for r in args.rates.split(",")]
    if args.no_load:
        opts["rates"] = []
    opts["sites"], opts["out"] = (args.sites or opts["sites"]).split(","), args.out
    opts["code"] = str(Path(args.code).resolve()) if args.code else None
    opts["module"], opts["new_views"] = args.module, args.new_views
    return opts


async def main(argv=None) -> int:
    opts = options(argv)
    began = time.monotonic()
    # A stopped bench still stops its servers: SIGTERM cancels the run, and every `finally` runs.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    work = Path(tempfile.mkdtemp(prefix="allies-bench-"))
    bg = machine.Background().start()
    info = machine.describe()
    code = servers.snapshot(work, Path(opts["code"]) if opts["code"] else servers.ROOT)
    env = servers.environment(work, code)
    modules = in_order(servers.modules(code), opts["module"])[: opts["modules"] or None]
    sites = servers.sites(work, code, env, opts["pool"], opts["sites"])
    print(f"bench: {opts['mode']} run, work folder {work}, modules {modules}", flush=True)
    bg.mark("warm chart cache")
    info["chart_cache_warmup_s"] = servers.warm_chart_cache(work, code, env, not opts["new_views"])
    info["new_views"] = opts["new_views"]
    charted = floor.write(work, work / "executed", modules)
    inline.write(code)
    charted[inline.NOTEBOOK] = True
    bg.mark("roster")
    codes = (servers.make_roster(work, code, env, max(opts["rates"] + [0]) + 2 * opts["cold"] + 10)
             if any(s.signed_in for s in sites) else {})
    people = sorted(codes.items())
    learners = itertools.cycle(people or [None])
    # ("floor_after_idle": each interleaved floor load waits for our site to be idle; runs before it did not)
    results = {"machine": info, "options": opts, "modules": modules, "expect": {}, "sites": {}, "load": [],
               "floor_after_idle": True}
    async with async_playwright() as playwright:
        browser = await chrome.launch(playwright)
        info["chromium"] = browser.version
        floor_site = next((s for s in sites if s.key == "floor"), None)
        for site in sites:
            results["sites"][site.key] = await measure_site(
                browser, site, modules, results["expect"], learners, opts, bg, charted,
                floor_site if site.key == "ours" else None)
        if opts["rates"] and modules:
            first = modules[0]
            served = [s for s in sites if s.key not in ("floor", "inline")]  # they serve no module page
            results["load"] = await load_levels(browser, served, first, results["expect"][first], people,
                                                opts, bg)
        await browser.close()
    bg.stop()
    info["loadavg_end"] = os.getloadavg()
    results["background"] = bg.summary()
    results["wall_s"] = time.monotonic() - began
    (work / "results.json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    Path(opts["out"]).write_text(report.markdown(results, work), encoding="utf-8")
    print(f"bench: wrote {opts['out']} in {results['wall_s'] / 60:.1f} min; raw data in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
