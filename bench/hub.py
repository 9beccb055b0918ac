"""One learner through a full module on the hub path, measured: the course's JupyterHub on loopback
(bench/hubs.py), one learner signs in (the hub starts their server), opens the module, answers every
knowledge check and reflection, waits for each "Saved at", submits, closes the page. Sampled every 0.2 s:
the resident memory (RSS) of the learner's server and of its kernels, and their CPU time. Writes
bench/HUB.md and bench/hub.json, which docs/capacity.md and deploy/z2jh/values.yaml are sized from.

    python bench/hub.py [--module 01-why-men-why-now] [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from bench import hubs, machine  # noqa: E402
from bench.browser import CHROMIUM, FLAGS  # noqa: E402

OUT = Path(__file__).resolve().parent
WAIT_MS = 240_000
REFLECTION = ("In my team the loudest voices set the plan, and I am one of them. This week I will ask the "
              "quietest person first and credit ideas to whoever raised them.")


class Sampler:
    """RSS and CPU time of one process and its descendants, sampled in a thread."""

    def __init__(self, root: psutil.Process, every: float = 0.2):
        self.root, self.every = root, every
        self.peak_mb = {"server": 0.0, "kernels": 0.0, "total": 0.0}
        self.cpu: dict[int, float] = {}  # pid -> user + system seconds, as last seen
        self.samples: list[tuple[float, float]] = []  # (time, total MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            server = kernels = 0.0
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            for proc in procs:
                try:
                    rss = proc.memory_info().rss / 2**20
                    times = proc.cpu_times()
                except psutil.Error:
                    continue
                self.cpu[proc.pid] = times.user + times.system
                if proc.pid == self.root.pid:
                    server = rss
                else:
                    kernels += rss
            for key, value in (("server", server), ("kernels", kernels), ("total", server + kernels)):
                self.peak_mb[key] = max(self.peak_mb[key], value)
            self.samples.append((time.monotonic(), server + kernels))
            self._stop.wait(self.every)

    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())


def items_of(page) -> list[str]:
    return page.eval_on_selector_all(
        "[class*='allies-item-m']",
        "els => els.map(e => [...e.classList].find(c => c.startsWith('allies-item-m')).slice(12))")


def through_the_module(page, hub: hubs.Hub, user: str, module: str) -> dict:
    """Open `module`, answer everything on it, submit; the seconds each step took."""
    times = {}
    began = time.monotonic()
    page.goto(f"{hub.url}/user/{user}/voila/render/modules/{module}.ipynb", wait_until="commit", timeout=WAIT_MS)
    page.locator(".allies-submit button").wait_for(timeout=WAIT_MS)
    items = items_of(page)
    for item in items:
        page.locator(f".allies-item-{item} > .widget-html").nth(1).filter(
            has_text=re.compile("restored|save as you go", re.I)).wait_for(timeout=WAIT_MS)
    times["page_usable_s"] = time.monotonic() - began
    began = time.monotonic()
    answered = 0
    for item in items:
        box = page.locator(f".allies-item-{item}")
        if box.locator("input[type=radio]").count():
            box.locator("input[type=radio]").first.check()
        elif box.locator("textarea").count():
            box.locator("textarea").fill(REFLECTION)
        else:
            continue
        box.locator(":scope > .widget-html").nth(1).filter(has_text=re.compile("^Saved at")).wait_for(
            timeout=WAIT_MS)
        answered += 1
    times["answering_s"] = time.monotonic() - began
    times["items_answered"] = answered
    began = time.monotonic()
    page.locator(".allies-submit button").click()
    page.locator(".allies-submit .widget-html").filter(has_text=re.compile("^Submitted")).wait_for(
        timeout=WAIT_MS)
    times["submit_s"] = time.monotonic() - began
    return times


def one_learner(browser, hub: hubs.Hub, user: str, module: str) -> dict:
    context = browser.new_context()
    try:
        page = context.new_page()
        began = time.monotonic()
        page.goto(f"{hub.url}/hub/login")
        page.fill("#username_input", user)
        page.fill("#password_input", hubs.PASSWORD)
        page.click("#login_submit")
        page.wait_for_url(f"**/user/{user}/voila/tree/modules**", timeout=WAIT_MS)
        page.locator("li[data-module]").first.wait_for(timeout=WAIT_MS)
        spawn_s = time.monotonic() - began
        server = hub.server_of(user)
        started = server.cpu_times()
        with Sampler(server) as sampler:
            times = through_the_module(page, hub, user, module)
            page.close()
            # The closed page shuts its kernel down (frontend/): what stays is the idle server.
            deadline = time.monotonic() + 30
            while server.children(recursive=True) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1)
        idle_mb = server.memory_info().rss / 2**20
        cpu = sampler.cpu_seconds()
        duration = sampler.samples[-1][0] - sampler.samples[0][0]
        return {"user": user, "spawn_s": spawn_s, "start_cpu_s": started.user + started.system, **times,
                "cpu_s": cpu, "measured_s": duration,
                "peak_server_mb": sampler.peak_mb["server"], "peak_kernels_mb": sampler.peak_mb["kernels"],
                "peak_total_mb": sampler.peak_mb["total"], "idle_server_mb": idle_mb}
    finally:
        context.close()


def markdown(result: dict) -> str:
    rows = result["learners"]
    head = ["learner", "server start s", "its CPU s", "page usable s", "answering s", "items", "submit s",
            "module CPU s",
            "peak server MB", "peak kernels MB", "peak total MB", "idle server MB"]
    keys = ["user", "spawn_s", "start_cpu_s", "page_usable_s", "answering_s", "items_answered", "submit_s", "cpu_s",
            "peak_server_mb", "peak_kernels_mb", "peak_total_mb", "idle_server_mb"]
    lines = [
        "# One learner through a module on the hub path",
        "",
        f"Measured {result['when']} by `python bench/hub.py --module {result['module']} --runs {len(rows)}` "
        "(the course's JupyterHub on loopback, deploy/jupyterhub/; headless Chromium; each run a new learner "
        "whose server the hub starts). The server's start: from sign-in to the course index, and the CPU its "
        "process used until then. Module CPU: the learner's server and its kernels, user + system, from "
        "opening the module to its kernel's shutdown after the page closed. Memory: their resident set.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in rows:
        lines.append("| " + " | ".join(f"{row[k]:.2f}" if isinstance(row[k], float) else str(row[k])
                                       for k in keys) + " |")
    busy = result["background"].get("setup", {})
    lines += ["", f"Meanwhile other processes on this machine used {busy.get('mean', 0):.2f} cores on average "
              f"(peak {busy.get('max', 0):.2f}).", "", *machine.table(result["machine"]), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", default="01-why-men-why-now")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    learners = [f"learner{i}" for i in range(1, args.runs + 1)]
    with tempfile.TemporaryDirectory(prefix="allies-hub-bench-") as work:
        hub = hubs.Hub(Path(work), learners, ["ines"])
        hub.init_course([args.module])
        hub.start()
        background = machine.Background().start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
                rows = [one_learner(browser, hub, user, args.module) for user in learners]
                browser.close()
        finally:
            background.stop()
            hub.stop()
    result = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "module": args.module,
              "learners": rows, "machine": machine.describe(), "background": background.summary()}
    (OUT / "hub.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    (OUT / "HUB.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
