"""Headless Chromium measurements: page load to "usable" (see probe.js), where the time goes, slider moves."""
from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import httpx

from .servers import Site

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
PROBE = (Path(__file__).resolve().parent / "probe.js").read_text(encoding="utf-8")
WS_KERNEL = re.compile(r"/api/kernels/([0-9a-f-]{36})/channels")
CDP_METRICS = ("ScriptDuration", "TaskDuration", "LayoutDuration", "RecalcStyleDuration")

# Read in the page once it is usable: navigation timing, the kernel websocket, what was downloaded.
TIMELINE = """() => {
  const source = (url) => {
    const path = new URL(url).pathname;
    const ext = path.match(/^\\/voila\\/labextensions\\/((?:@[^/]+\\/)?[^/]+)/);
    if (ext) return 'labextension ' + ext[1];
    const known = ['/voila/static/', '/voila/templates/', '/voila/api/', '/api/'];
    return known.find((p) => path.startsWith(p)) || path;
  };
  const groups = (entries) => {
    const out = {};
    for (const r of entries) {
      const g = (out[source(r.name)] ||= { files: 0, bytes: 0, start: r.startTime, end: r.responseEnd });
      g.files += 1; g.bytes += r.decodedBodySize || 0;
      g.start = Math.min(g.start, r.startTime); g.end = Math.max(g.end, r.responseEnd);
    }
    return out;
  };
  const B = window.__bench, nav = performance.getEntriesByType('navigation')[0];
  const ws = B.ws.find((w) => /\\/api\\/kernels\\/.*\\/channels/.test(w.url)) || null;
  const res = performance.getEntriesByType('resource');
  const before = ws ? ws.created : B.usable;
  const sum = (xs) => xs.reduce((a, r) => a + (r.decodedBodySize || 0), 0);
  const js = res.filter((r) => r.initiatorType === 'script' || /\\.js(\\?|$)/.test(r.name));
  const css = res.filter((r) => r.initiatorType === 'link' || /\\.css(\\?|$)/.test(r.name));
  const assets = [...js, ...css].filter((r) => r.startTime < before);
  return {
    usable: B.usable, first_widget: B.firstWidget, first: B.first, counts: B.counts,
    ttfb: nav.responseStart, html: nav.responseEnd, dcl: nav.domContentLoadedEventEnd,
    load: nav.loadEventEnd || null,
    assets: assets.length ? Math.max(...assets.map((r) => r.responseEnd)) : null,
    ws_created: ws && ws.created, ws_open: ws && ws.open, ws_first: ws && ws.first,
    ws_last: ws && ws.lastBeforeUsable, ws_url: ws && ws.url,
    html_bytes: nav.decodedBodySize, js_files: js.length, js_bytes: sum(js), css_bytes: sum(css),
    ws_msgs: ws ? ws.msgsBeforeUsable : 0, ws_bytes: ws ? ws.bytesBeforeUsable : 0,
    requests: res.length, groups: groups(res.filter((r) => r.startTime < B.usable)),
  };
}"""


async def launch(playwright):
    """Debian's chromium, headless, with the flags this machine needs."""
    return await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)


async def sign_in(context, site: Site, learner: str, code: str) -> float:
    """Sign `context` in on the cohort site (GET then POST /login with _xsrf); returns the seconds taken."""
    start = time.monotonic()
    await context.request.get(site.base + "/login")
    xsrf = next(c["value"] for c in await context.cookies() if c["name"] == "_xsrf")
    response = await context.request.post(site.base + "/login?next=/", max_redirects=0,
                                          form={"learner": learner, "code": code, "_xsrf": xsrf})
    if response.status != 302:
        raise RuntimeError(f"sign-in as {learner} answered {response.status}")
    return time.monotonic() - start


async def new_context(browser, site: Site, learner: tuple[str, str] | None):
    """A fresh browser context (empty cache and cookies), signed in when the site needs it."""
    context = await browser.new_context()
    if site.signed_in:
        await sign_in(context, site, *learner)
    return context


def render_url(site: Site, module: str) -> str:
    if site.key == "floor":
        return f"{site.base}/{module}.html"
    return f"{site.base}/voila/render/{module}"


async def discover(context, site: Site, module: str, timeout: float = 90) -> dict:
    """Load `module` with no definition of usable and wait until its widgets stop changing (2 s); returns
    the counts of explorers (and of those showing a chart), radio widgets, textareas and all widgets, and
    any request made to another host."""
    page = await context.new_page()
    off_site = []
    page.on("request", lambda r: None if r.url.startswith(site.base.replace("http", "ws")) or
            r.url.startswith(site.base) or r.url.startswith("data:") else off_site.append(r.url))
    await page.add_init_script(PROBE)
    await page.goto(render_url(site, module), wait_until="commit", timeout=timeout * 1000)
    deadline, last, stable_since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        counts = await page.evaluate("window.__bench.count()")
        if counts != last:
            last, stable_since = counts, time.monotonic()
        elif (counts["widgets"] or site.key == "floor") and time.monotonic() - stable_since > 2:
            break
        await asyncio.sleep(0.25)
    kernel = WS_KERNEL.search(await page.evaluate("window.__bench.ws.map((w) => w.url).join(' ')"))
    await page.close()
    await shutdown_kernel(site, context, kernel.group(1) if kernel else None)
    return {**{k: last[k] for k in ("explorers", "charted", "radios", "textareas", "widgets")},
            "off_site": sorted(set(off_site))}


async def load(context, site: Site, module: str, expect: dict, timeout: float = 60, url: str | None = None):
    """Open `module` (at `url`, by default the site's page for it) in a new page of `context`; returns (page,
    record) where record holds the in-page milestones (ms from navigation start), sizes, Chromium's
    main-thread totals and the kernel id."""
    page = await context.new_page()
    await page.add_init_script("window.__benchExpect = " + json.dumps(expect) + ";")
    await page.add_init_script(PROBE)
    cdp = await context.new_cdp_session(page)
    await cdp.send("Performance.enable")
    record = {"module": module, "ok": False}
    try:
        await page.goto(url or render_url(site, module), wait_until="commit", timeout=timeout * 1000)
        await page.wait_for_function("window.__bench.usable !== null", polling=100, timeout=timeout * 1000)
    except Exception as exc:  # a page that never becomes usable is a result, not a crash
        record["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
        try:
            record["counts_at_timeout"] = await page.evaluate("window.__bench.count()")
        except Exception:
            pass
        return page, record
    metrics = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
    record.update(await page.evaluate(TIMELINE), ok=True)
    record.update({k: round(metrics.get(k, 0) * 1000, 1) for k in CDP_METRICS})
    match = WS_KERNEL.search(record.get("ws_url") or "")
    record["kernel"] = match.group(1) if match else None
    return page, record


async def shutdown_kernel(site: Site, context, kernel: str | None) -> int | None:
    """Shut the page's kernel down as a well-behaved client would (DELETE /api/kernels/<id> with a matching
    _xsrf cookie and header), so measured pages do not leave kernels running; returns the status."""
    if not kernel:
        return None
    cookies = {c["name"]: c["value"] for c in await context.cookies() if c["name"] != "_xsrf"}
    cookies["_xsrf"] = "bench"
    async with httpx.AsyncClient(base_url=site.base, cookies=cookies, timeout=30) as client:
        response = await client.delete(f"/api/kernels/{kernel}", headers={"X-XSRFToken": "bench"})
        return response.status_code


FIND_SLIDER = """() => [...document.querySelectorAll('.allies-explorer')]
  .find((e) => e.querySelector('.noUi-handle'))"""
POSITION = """(explorer) => { const h = explorer.querySelector('.noUi-handle'); h.focus();
  return {now: +h.getAttribute('aria-valuenow'), min: +h.getAttribute('aria-valuemin'),
          max: +h.getAttribute('aria-valuemax')}; }"""
# Before each key press: note the visible chart, then time from the keydown event to the first animation
# frame after another chart is visible (both on the page's own clock); a view the kernel is still drawing
# shows no chart, so the time includes the drawing.
ARM = """(explorer) => {
  const visible = () => {
    const img = [...explorer.querySelectorAll('img')].find((i) => i.getClientRects().length > 0);
    return img ? img.src : null;
  };
  const m = (window.__move = { before: visible(), t0: null, t1: null });
  document.addEventListener('keydown', (e) => { if (m.t0 === null) m.t0 = e.timeStamp; },
                            { capture: true, once: true });
  const obs = new MutationObserver(() => {  // a view still being drawn (no chart yet) is not the new chart
    const now = visible();
    if (m.changed || now === null || now === m.before) return;
    m.changed = true; obs.disconnect();
    requestAnimationFrame(() => { m.t1 = performance.now(); });
  });
  obs.observe(explorer, { subtree: true, childList: true, attributes: true });
}"""


async def slider_moves(page, moves: int, pause: float = 0.15, timeout: float = 3.0) -> dict:
    """Press ArrowLeft (ArrowRight at the left end) on the first explorer's slider handle `moves` times;
    returns the ms from each keydown to the frame showing the new chart, and how many never showed one."""
    explorer = await page.evaluate_handle(FIND_SLIDER)
    if await explorer.evaluate("e => !e"):
        return {"times": [], "failed": 0, "absent": True}
    times, failed, key = [], 0, "ArrowLeft"
    for _ in range(moves):
        pos = await explorer.evaluate(POSITION)
        if key == "ArrowLeft" and pos["now"] <= pos["min"]:
            key = "ArrowRight"
        elif key == "ArrowRight" and pos["now"] >= pos["max"]:
            key = "ArrowLeft"
        await explorer.evaluate(ARM)
        await page.keyboard.press(key)
        try:
            await page.wait_for_function("window.__move.t1 !== null", polling="raf", timeout=timeout * 1000)
            times.append(await page.evaluate("window.__move.t1 - window.__move.t0"))
        except Exception:
            failed += 1
        await asyncio.sleep(pause)
    return {"times": times, "failed": failed, "absent": False}
