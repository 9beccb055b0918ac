"""Learners arriving in a minute on the hub path against the single-machine cohort site, in one run; writes
bench/HUB_LOAD.md.

    python bench/hub_load.py [--hub-rates 10,20,30,40] [--cohort-rates 40,80,110,140] [--hub-limit 120]

Every level is `bench/load.py`'s load test: learners arriving evenly over 60 s on a freshly started path, most
as HTTP clients, one in `--browser-every` a headless browser timed to "usable" by bench/probe.js.
- The cohort site: `python -m course cohort serve` as bench/run.py starts "ours" (pool 3); a learner signs in
  with their access code, opens Module 1, and is usable when its widgets' state arrives (bench/load.py).
- The hub path: the course's JupyterHub on loopback (bench/hubs.py: configurable-http-proxy, a local-process
  spawner, the password sign-in tests/test_hub.py uses). A learner signs in on the hub's form, the hub starts
  their server (its progress stream, as the spawn-pending page follows it), the server sends them to the course
  index, then they open Module 1, usable as above.
A learner fails if not usable `--cohort-limit` (30 s, as bench/run.py) or `--hub-limit` seconds after arriving;
the hub path is also judged by the cohort's limit. Rates go up until a level fails. Both paths share one chart
cache, filled before the run.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

from bench import browser as chrome  # noqa: E402
from bench import hubs, load, machine, servers  # noqa: E402
from bench.stats import fmt, summary  # noqa: E402

OUT = Path(__file__).resolve().parent / "HUB_LOAD.md"
PROGRESS = re.compile(r'new EventSource\("([^"]+)"\)')
SETTLE = 30.0  # seconds: after a level's last learner, CPU is counted until the path is idle, at most this long
BUSY = 0.3  # cores: above this much use by other processes on average, the report says the run was disturbed
PARTS = {"cohort": ["server", "kernels"], "hub": ["hub", "servers", "kernels"]}


async def hub_sign_in(client: httpx.AsyncClient, hub: hubs.Hub, user: str, stage: dict) -> httpx.Response:
    """JupyterHub's sign-in form, then the server's start as the spawn-pending page follows it (the progress
    event stream until "ready", then the page again); returns the course index the hub sends the learner to."""
    stage["at"] = "hub sign-in"
    await client.get(f"{hub.url}/hub/login")
    xsrf = next(c.value for c in client.cookies.jar if c.name == "_xsrf")
    response = await client.post(f"{hub.url}/hub/login", data={"username": user, "password": hubs.PASSWORD,
                                                               "_xsrf": xsrf})
    while response.url.path.startswith("/hub/spawn-pending/"):
        stage["at"] = "server start"
        progress = PROGRESS.search(response.text)
        if progress:
            async with client.stream("GET", hub.url + progress.group(1).replace("&amp;", "&")) as events:
                async for line in events.aiter_lines():
                    event = json.loads(line[5:]) if line.startswith("data:") else {}
                    if event.get("failed"):
                        raise RuntimeError(f"server start failed: {event.get('message', '')[:100]}")
                    if event.get("ready"):
                        break
        stage["at"] = "course index"
        response = await client.get(response.url)
    if response.status_code != 200 or not response.url.path.startswith(f"/user/{user}/"):
        raise RuntimeError(f"sign-in ended at {response.url.path} ({response.status_code})")
    return response


async def hub_http_learner(hub: hubs.Hub, module: str, user: str, stage: dict) -> dict:
    """One learner on the hub path as an HTTP client: sign in, server start and course index ("signin"), then
    Module 1's page and its widgets' state over the kernel websocket, as bench/load.py's learners."""
    out = {"kind": "http"}
    prefix = f"/user/{user}"
    async with httpx.AsyncClient(base_url=hub.url + prefix, timeout=None, follow_redirects=True) as client:
        start = time.monotonic()
        await hub_sign_in(client, hub, user, stage)
        out["signin"] = time.monotonic() - start
        stage["at"] = "page HTML"
        start = time.monotonic()
        response = await load.module_page(client, module)
        out["html"] = time.monotonic() - start
        match = load.KERNEL_ID.search(response.text)
        if response.status_code != 200 or not match:
            return {**out, "error": f"page {response.status_code}" + ("" if match else ", no kernel id")}
        stage["at"] = "widget state over the kernel websocket"
        cookies = {c.name: c.value for c in client.cookies.jar if (prefix + "/").startswith(c.path)}
        widgets, read = await load.widget_states(hub, match.group(1), cookies, prefix)
        out.update(usable=time.monotonic() - start, widgets=widgets, ws_bytes=read)
    return out


async def hub_browser_learner(browser, hub: hubs.Hub, module: str, user: str, expect: dict, timeout: float,
                              stage: dict) -> dict:
    """One learner on the hub path in a fresh browser context: the hub's sign-in form, the spawn-pending page
    until the course index, then Module 1's page, timed with probe.js."""
    async def sign_in(context) -> float:
        stage["at"] = "hub sign-in and server start (browser)"
        start = time.monotonic()
        page = await context.new_page()
        await page.goto(f"{hub.url}/hub/login")
        await page.fill("#username_input", user)
        await page.fill("#password_input", hubs.PASSWORD)
        await page.click("#login_submit")
        await page.wait_for_url(f"**/user/{user}/voila/tree/modules**", timeout=timeout * 1000)
        await page.close()
        return time.monotonic() - start

    return await load.in_browser(browser, hub, module, expect, timeout, stage, sign_in,
                                 url=f"{hub.url}/user/{user}/voila/render/{module}")


def level_stats(level: dict, limit: float) -> dict:
    """A level's failures (within its own limit, and within `limit`), time from arrival to usable, CPU by part
    (CPU seconds and cores over the level) and peak memory (GB), from its learners' outcomes and samples."""
    results, samples = level["results"], level["samples"]
    done = [r["total"] for r in results if "error" not in r]
    seconds = samples[-1]["t"] - samples[0]["t"] if len(samples) > 1 else 0.0
    first, last = (samples[0]["cpu_by"], samples[-1]["cpu_by"]) if samples else ({}, {})
    cpu = {part: last.get(part, 0.0) - first.get(part, 0.0) for part in last}
    return {"arrivals": level["arrivals"], "failed": sum("error" in r for r in results),
            "failed_at_limit": sum("error" in r for r in results) + sum(t > limit for t in done),
            "total": summary(done), "signin": summary([r.get("signin") for r in results if "error" not in r]),
            "browser": summary([r["total"] for r in results if r["kind"] == "browser" and "error" not in r]),
            "cpu": cpu, "cpu_s": sum(cpu.values()), "seconds": seconds,
            "cores": sum(cpu.values()) / seconds if seconds else None,
            "peak_gb": max((s["rss"] for s in samples), default=0) / 1024**3,
            "peak_by_gb": {part: max(s["rss_by"].get(part, 0) for s in samples) / 1024**3
                           for part in {p for s in samples for p in s["rss_by"]}},
            "errors": sorted({r["error"][:80] for r in results if "error" in r})}


def highest(levels: list[dict], path: str, key: str) -> int | None:
    """The highest rate on `path` at which no learner failed (`key`: "failed" or "failed_at_limit")."""
    return max((lv["rate"] for lv in levels if lv["path"] == path and lv["stats"][key] == 0), default=None)


def markdown(r: dict) -> str:
    """bench/HUB_LOAD.md from the run's result: options, machine, levels with their statistics, background."""
    o, bg = r["options"], r["background"]
    levels = [{**lv, "stats": level_stats(lv, o["cohort_limit"])} for lv in r["levels"]]
    others = [v["mean"] for name, v in bg.items() if name.startswith("load ")]
    mean_others = sum(others) / len(others) if others else None
    hub_at_own, hub_at_30 = highest(levels, "hub", "failed"), highest(levels, "hub", "failed_at_limit")
    cohort = highest(levels, "cohort", "failed")

    def rate(value):
        return "none of the rates run" if value is None else f"**{value} a minute**"

    def rates_run(path):
        return ", ".join(str(lv["rate"]) for lv in levels if lv["path"] == path)

    lines = [
        "# Learners arriving in a minute: the hub path against the single-machine cohort site", "",
        f"Written by `{r['command']}` on {r['machine']['date']} in {r['wall_s'] / 60:.1f} min, one run. "
        f"Raw data and logs: `{r['work']}`.", "",
        *machine.table(r["machine"]),
        f"**Highest rate with no failures in this run**: the cohort site {rate(cohort)} (limit "
        f"{o['cohort_limit']:g} s; rates run: {rates_run('cohort')}); the hub path {rate(hub_at_own)} with a limit "
        f"of {o['hub_limit']:g} s, and {rate(hub_at_30)} with the cohort's {o['cohort_limit']:g} s (rates run: "
        f"{rates_run('hub')}). Rates go up until a level fails.",
        ""]
    if mean_others is not None and mean_others > BUSY:
        lines += [f"**This machine was busy with other work**: other processes used {mean_others:.2f} cores on "
                  f"average during the load levels (of {r['machine']['cores']}), more than {BUSY:g}: every "
                  "figure below is lower than a quiet machine would give.", ""]
    lines += [
        "Each level: learners arriving evenly over 60 s, each on a freshly started path, all opening "
        f"{r['module']}. Most learners are HTTP clients (bench/load.py); one in {o['browser_every']} (at most 3 "
        "at a time) is a headless Chromium timed to \"usable\" by bench/probe.js. **Cohort site**: "
        f"`python -m course cohort serve --pool-size {o['pool']}`; a learner signs in with an access code, gets "
        "the module page and asks for its widgets' state over the kernel websocket. **Hub path**: the course's "
        "JupyterHub (deploy/jupyterhub/) on loopback with configurable-http-proxy and a local-process spawner "
        "(bench/hubs.py); a learner signs in on the hub's form, the hub starts their server (followed through "
        "its progress stream, as the spawn-pending page does), the server sends them to the course index, then "
        "the module page and its widgets' state as above. **Time to usable** runs from arrival (sign-in "
        "included, and so the server's start on the hub) to usable; a learner not usable within the limit "
        f"(cohort {o['cohort_limit']:g} s, hub {o['hub_limit']:g} s) fails. **CPU**: user + system seconds of "
        "the path's processes from the first arrival until the path was idle again after the last learner (at "
        f"most {SETTLE:g} s later; processes that ended count until last seen), per learner, and as cores over "
        "that time; the hub's part is the hub, its proxy and the idle culler, \"servers\" are learners' "
        "servers. **Memory**: the peak of their summed resident sets (shared pages counted in each process). "
        "**Server log**: lines counted in the path's log (the hub's holds the proxy's and learners' servers' "
        "output too; bench/servers.py and bench/hubs.py name what is counted). The load generator and the "
        "browsers share the same 2 cores.", "",
        f"| path | per min | arrivals | failed (limit) | failed within {o['cohort_limit']:g} s | usable from "
        "arrival: median / p95 s | browsers: median s (n) | sign-in (hub: with server start): median s | "
        "CPU s: by part | CPU s per learner | cores | peak memory GB: total (by part) | others' CPU, cores | "
        "server log |",
        "|" + "---|" * 14]
    for lv in levels:
        s, parts = lv["stats"], PARTS[lv["path"]]
        busy = bg.get(f"load {lv['path']} {lv['rate']}/min", {}).get("mean")
        lines.append(
            f"| {lv['path']} | {lv['rate']} | {s['arrivals']} | {s['failed']} ({lv['limit']:g} s) | "
            f"{s['failed_at_limit']} | {fmt(s['total']['median'], '', 2)} / {fmt(s['total']['p95'], '', 2)} | "
            f"{fmt(s['browser']['median'], '', 2)} ({s['browser']['n']}) | {fmt(s['signin']['median'], '', 2)} | "
            + ", ".join(f"{p} {s['cpu'].get(p, 0):.1f}" for p in parts) + " | "
            f"{s['cpu_s'] / s['arrivals']:.2f} | {fmt(s['cores'], '', 2)} | {s['peak_gb']:.2f} ("
            + ", ".join(f"{p} {s['peak_by_gb'].get(p, 0):.2f}" for p in parts) + f") | {fmt(busy, '', 2)} | "
            + (", ".join(f"{k}: {n}" for k, n in lv.get("log_events", {}).items()) or "–") + " |")
    errors = [f"- {lv['path']} {lv['rate']}/min: {'; '.join(lv['stats']['errors'])}"
              for lv in levels if lv["stats"]["errors"]]
    lines += ["", *(["Why learners failed (distinct messages):", "", *errors, ""] if errors else [])]
    lines += ["Other processes on this machine (other sessions' work), cores, sampled every second:", "",
              "| section | mean | peak | machine busy, mean |", "|---|---|---|---|",
              *(f"| {name} | {v['mean']:.2f} | {v['max']:.2f} | {v['machine']:.2f} |" for name, v in bg.items()),
              ""]
    return "\n".join(lines)


async def levels_of(path: str, rates: list[int], run_one) -> list[dict]:
    """Each rate in turn with `run_one(rate)`, stopping after the first level in which a learner failed."""
    done = []
    for rate in rates:
        level = await run_one(rate)
        done.append(level)
        stats = level_stats(level, level["limit"])
        print(f"  {path} {rate}/min: {stats['failed']} of {stats['arrivals']} failed, usable median "
              f"{fmt(stats['total']['median'], ' s', 2)} p95 {fmt(stats['total']['p95'], ' s', 2)}, "
              f"{fmt(stats['cores'], ' cores', 2)}", flush=True)
        if stats["failed"]:
            break
    return done


def options(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hub-rates", default="10,20,30,40", help="learners a minute on the hub path, in turn")
    parser.add_argument("--cohort-rates", default="40,80,110,140", help="learners a minute on the cohort site")
    parser.add_argument("--hub-limit", type=float, default=120.0,
                        help="seconds from arrival to usable on the hub path (its server start included)")
    parser.add_argument("--cohort-limit", type=float, default=30.0, help="the same on the cohort site")
    parser.add_argument("--browser-every", type=int, default=5, help="one learner in this many is a browser")
    parser.add_argument("--pool", type=int, default=3, help="the cohort site's preheated kernels per module")
    parser.add_argument("--out", default=str(OUT))
    return parser.parse_args(argv)


async def main(argv=None) -> int:
    args = options(argv)
    hub_rates = [int(x) for x in args.hub_rates.split(",") if x]
    cohort_rates = [int(x) for x in args.cohort_rates.split(",") if x]
    began = time.monotonic()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    info = machine.describe()
    bg = machine.Background().start()
    work, code, env, people, module = await asyncio.to_thread(servers.prepare, "allies-hub-load-",
                                                              max(cohort_rates + [1]))
    print(f"hub_load: work folder {work}, module {module}", flush=True)
    site = servers.sites(work, code, env, args.pool, ["ours"])[0]
    # Both paths' kernels read the chart cache filled above, and matplotlib's font cache made with it.
    shared = {key: env[key] for key in ("ALLIES_CACHE_DIR", "MPLCONFIGDIR")}
    expect: dict = {}
    window = 60.0

    async def cohort_level(rate: int) -> dict:
        bg.mark(f"start cohort {rate}/min")
        await asyncio.to_thread(site.start)
        try:
            if not expect:  # what "usable" means on Module 1's page: what it shows once settled
                context = await chrome.new_context(browser, site, people[0])
                found = await chrome.discover(context, site, module)
                await context.close()
                expect.update({k: found[k] for k in ("explorers", "charted", "radios", "textareas")},
                              widgets=min(found["widgets"], 1), chart=found["charted"] > 0)
                await asyncio.to_thread(site.wait_idle)
            bg.mark(f"load cohort {rate}/min")
            level = await load.run_level(site, rate, module, people, browser, expect, window=window,
                                         deadline=args.cohort_limit, browser_every=args.browser_every,
                                         settle=SETTLE)
        finally:
            site.stop()
        return {**level, "path": "cohort", "limit": args.cohort_limit, "log_events": site.log_events()}

    async def hub_level(rate: int) -> dict:
        bg.mark(f"start hub {rate}/min")
        users = [f"r{rate}n{i}" for i in range(rate)]
        hub = hubs.Hub(work / f"hub-{rate}", users, [], environment=shared)
        hub.folder.mkdir()
        await asyncio.to_thread(hub.init_course, [module.removesuffix(".ipynb")])
        await asyncio.to_thread(hub.start)
        try:
            bg.mark(f"load hub {rate}/min")
            level = await load.run_level(hub, rate, f"modules/{module}", users, browser, expect, window=window,
                                         deadline=args.hub_limit, browser_every=args.browser_every,
                                         http=hub_http_learner, in_browser=hub_browser_learner, settle=SETTLE)
        finally:
            await asyncio.to_thread(hub.stop)
        return {**level, "path": "hub", "limit": args.hub_limit, "log_events": hub.log_events()}

    async with async_playwright() as playwright:
        browser = await chrome.launch(playwright)
        try:
            levels = await levels_of("cohort", cohort_rates, cohort_level)
            levels += await levels_of("hub", hub_rates, hub_level)
        finally:
            await browser.close()
    bg.stop()
    result = {"command": " ".join(["python bench/hub_load.py", *(argv if argv is not None else sys.argv[1:])]),
              "machine": info, "options": {**vars(args), "pool": args.pool}, "module": module,
              "work": str(work), "levels": levels, "background": bg.summary(), "wall_s": time.monotonic() - began}
    (work / "hub_load.json").write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    Path(args.out).write_text(markdown(result), encoding="utf-8")
    print(f"hub_load: wrote {args.out} in {result['wall_s'] / 60:.1f} min; raw data in {work}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
