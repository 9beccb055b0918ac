"""The load test: N learners arriving evenly over a window, each opening the same module.

Most learners are plain HTTP clients: sign in (cohort site only), GET the module page to its last byte
("HTML"; a waiting page is asked again after its Retry-After, as a browser does), then open the kernel
websocket and ask for every widget's state as the page's widget manager does (`jupyter.widget.control` /
`request_states`) — "usable (HTTP)" is that reply. Every k-th learner is a real headless browser, timed to
the same "usable" as the page-load figure (probe.js). Times run from the request for the module page, after
sign-in; sign-in is timed on its own.
Traffic goes only to 127.0.0.1; every learner has a deadline, and the test ends within window + deadline.
"""
from __future__ import annotations

import asyncio
import datetime
import json
import re
import struct
import time
import uuid

import httpx
import psutil
import websockets

from . import browser as chrome
from .servers import ProcessTree, Site

KERNEL_ID = re.compile(r'"kernelId":\s*"([0-9a-f-]{36})"')
MIN_FREE_BYTES = 2 * 1024**3  # below this much free memory, no new learner is sent (reported)


def _message(session: str, msg_type: str, content: dict, metadata: dict | None = None) -> str:
    header = {"msg_id": uuid.uuid4().hex, "username": "bench", "session": session, "msg_type": msg_type,
              "version": "5.3", "date": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    return json.dumps({"header": header, "parent_header": {}, "metadata": metadata or {}, "content": content,
                       "channel": "shell", "buffers": []})


def _decode(frame) -> dict:
    """A kernel message from the websocket: JSON text, or binary (offsets, JSON, buffers)."""
    if isinstance(frame, str):
        return json.loads(frame)
    count = struct.unpack("!I", frame[:4])[0]
    offsets = struct.unpack(f"!{count}I", frame[4:4 + 4 * count])
    return json.loads(frame[offsets[0]:offsets[1]])


async def widget_states(site: Site, kernel: str, cookies: dict, prefix: str = "") -> tuple[int, int]:
    """Open the kernel's websocket (under `prefix`: a learner's server on the hub, /user/<name>) and request
    every widget's state; returns (widget count, bytes read)."""
    session = uuid.uuid4().hex
    url = f"ws://127.0.0.1:{site.port}{prefix}/api/kernels/{kernel}/channels?session_id={session}"
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    async with websockets.connect(url, additional_headers={"Cookie": cookie} if cookie else {},
                                  max_size=None, open_timeout=None) as ws:
        comm = uuid.uuid4().hex
        opening = {"comm_id": comm, "target_name": "jupyter.widget.control", "data": {}}
        await ws.send(_message(session, "comm_open", opening, {"version": "1.0.0"}))
        await ws.send(_message(session, "comm_msg", {"comm_id": comm, "data": {"method": "request_states"}}))
        read = 0
        while True:
            frame = await ws.recv()
            read += len(frame)
            msg = _decode(frame)
            data = msg.get("content", {}).get("data") or {}
            if msg["header"]["msg_type"] == "comm_msg" and data.get("method") == "update_states":
                return len(data.get("states", {})), read


async def sign_in(client: httpx.AsyncClient, learner: str, code: str) -> int:
    """Sign `client` in on the cohort site as the login form does; returns the status (302: signed in)."""
    await client.get("/login")
    response = await client.post("/login?next=/", data={"learner": learner, "code": code,
                                                        "_xsrf": client.cookies.get("_xsrf")})
    return response.status_code


async def module_page(client: httpx.AsyncClient, module: str) -> httpx.Response:
    """The module page, after as many waiting pages (503 with Retry-After: no kernel free yet) as the site
    shows: a browser reloads a waiting page after that many seconds too."""
    while True:
        response = await client.get(f"/voila/render/{module}")
        if response.status_code != 503 or "Retry-After" not in response.headers:
            return response
        await asyncio.sleep(float(response.headers["Retry-After"]))


async def http_learner(site: Site, module: str, learner: tuple[str, str] | None, stage: dict) -> dict:
    """One learner as an HTTP client; returns its timings (s) or the error that stopped it. `stage["at"]`
    names the step under way, for a learner that runs out of time."""
    out = {"kind": "http"}
    async with httpx.AsyncClient(base_url=site.base, timeout=None, follow_redirects=False) as client:
        if site.signed_in:
            stage["at"] = "sign-in"
            start = time.monotonic()
            if (status := await sign_in(client, *learner)) != 302:
                return {**out, "error": f"sign-in {status}"}
            out["signin"] = time.monotonic() - start
        stage["at"] = "page HTML (or a waiting page)"
        start = time.monotonic()
        response = await module_page(client, module)
        out["html"] = time.monotonic() - start
        stage["at"] = "widget state over the kernel websocket"
        match = KERNEL_ID.search(response.text)
        if response.status_code != 200 or not match:
            return {**out, "error": f"page {response.status_code}" + ("" if match else ", no kernel id")}
        widgets, read = await widget_states(site, match.group(1), dict(client.cookies))
        out.update(usable=time.monotonic() - start, widgets=widgets, ws_bytes=read,
                   html_bytes=len(response.content))
    return out


async def browser_learner(browser, site: Site, module: str, learner, expect: dict, timeout: float,
                          stage: dict) -> dict:
    """One learner in a fresh headless-browser context; timed with probe.js like the page-load figure."""
    async def sign_in(context) -> float | None:
        if site.signed_in:
            stage["at"] = "sign-in"
            return await chrome.sign_in(context, site, *learner)
        return None

    return await in_browser(browser, site, module, expect, timeout, stage, sign_in)


async def in_browser(browser, site, module: str, expect: dict, timeout: float, stage: dict, sign_in,
                     url: str | None = None) -> dict:
    """One learner in a fresh headless-browser context: `await sign_in(context)` (its seconds, or None when
    there is no sign-in), then `module`'s page (at `url`, by default the site's) timed with probe.js."""
    out = {"kind": "browser"}
    context = await browser.new_context()
    try:
        if (seconds := await sign_in(context)) is not None:
            out["signin"] = seconds
        stage["at"] = "page load in the browser"
        page, record = await chrome.load(context, site, module, expect, timeout=timeout, url=url)
        if not record["ok"]:
            return {**out, "error": record.get("error", "not usable")}
        out.update(usable=record["usable"] / 1000, html=record["html"] / 1000)
        await page.close()
    finally:
        await context.close()
    return out


async def _sample(site: ProcessTree, samples: list, stop: asyncio.Event) -> None:
    """Every second, while the level runs: the server's kernels, its total RSS and CPU seconds (of live
    processes, and of the server process alone); and by part (`site.part`), RSS and the CPU seconds of every
    process seen so far, one that ended counting with its last reading."""
    seen: dict[int, tuple[str, float]] = {}  # pid -> (part, CPU seconds when last seen)
    while not stop.is_set():
        tree, rss_by, cpu, server_cpu = site.tree(), {}, 0.0, 0.0
        for p in tree:
            try:
                rss, times = p.memory_info().rss, p.cpu_times()
            except psutil.Error:
                continue
            part = site.part(p, tree[0])
            rss_by[part] = rss_by.get(part, 0) + rss
            seen[p.pid] = (part, times.user + times.system)
            cpu += times.user + times.system
            server_cpu += (times.user + times.system) * (p.pid == tree[0].pid)
        cpu_by = {}
        for part, used in seen.values():
            cpu_by[part] = cpu_by.get(part, 0.0) + used
        samples.append({"t": time.monotonic(), "kernels": len(site.kernels()), "rss": sum(rss_by.values()),
                        "cpu": cpu, "server_cpu": server_cpu, "rss_by": rss_by, "cpu_by": cpu_by})
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass


async def run_level(site: ProcessTree, rate: int, module: str, learners: list, browser, expect: dict, *,
                    window: float = 60.0, deadline: float = 60.0, browser_every: int = 10,
                    max_browsers: int = 3, http=http_learner, in_browser=browser_learner,
                    settle: float = 0.0) -> dict:
    """`rate × window / 60` learners arriving evenly over `window` seconds; each must be done within
    `deadline` seconds of arriving ("total": seconds from arrival to done). `http` and `in_browser`: one
    learner as an HTTP client and in a browser (by default, on the cohort site or plain Voilà). With `settle`,
    sampling goes on after the last learner until the server is idle (at most `settle` seconds), so that the
    samples hold the CPU the level caused. Returns every learner's outcome plus server samples."""
    count = max(1, round(rate * window / 60))
    results, samples, stop = [], [], asyncio.Event()
    running_browsers = 0
    sampler = asyncio.create_task(_sample(site, samples, stop))

    async def arrive(i: int) -> None:
        nonlocal running_browsers
        learner = learners[i % len(learners)] if learners else None
        use_browser = (browser is not None and browser_every and i % browser_every == browser_every // 2
                       and running_browsers < max_browsers)
        kind = "browser" if use_browser else "http"
        if psutil.virtual_memory().available < MIN_FREE_BYTES:
            results.append({"kind": "skipped", "error": "memory guard"})
            return
        running_browsers += use_browser
        start, stage = time.monotonic(), {"at": "start"}
        try:
            job = (in_browser(browser, site, module, learner, expect, deadline, stage) if use_browser
                   else http(site, module, learner, stage))
            outcome = await asyncio.wait_for(job, deadline)
            if "error" not in outcome:
                outcome["total"] = time.monotonic() - start
        except asyncio.TimeoutError:
            outcome = {"kind": kind, "error": f"not done in {deadline:g} s: {stage['at']}"}
        except Exception as exc:
            outcome = {"kind": kind, "error": f"{type(exc).__name__}: {exc}"[:160]}
        finally:
            running_browsers -= use_browser
        outcome["arrived"] = start
        results.append(outcome)

    begin = time.monotonic()
    tasks = []
    for i in range(count):
        await asyncio.sleep(max(0.0, begin + i * window / count - time.monotonic()))
        tasks.append(asyncio.create_task(arrive(i)))
    await asyncio.wait(tasks, timeout=deadline + 10)  # each learner already has its own deadline
    for task in tasks:
        task.cancel()
    if settle:
        await asyncio.to_thread(site.wait_idle, timeout=settle)
    stop.set()
    await sampler
    return {"rate": rate, "arrivals": count, "window": window, "results": results, "samples": samples,
            "wall": time.monotonic() - begin}
