"""The CPU seconds each arriving learner costs (server and kernels, pool refills included), for the cohort
site and for preheated Voilà, measured in one run: each site freshly started and idle, then `--learners`
page loads of the first module, one after another over HTTP (no browser), then idle again.

    python bench/capacity.py --learners 10 --pool 2
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench import servers  # noqa: E402


def client(site: servers.Site, learner: str | None, code: str | None) -> httpx.Client:
    """An HTTP client of one learner, signed in when the site wants it."""
    http = httpx.Client(base_url=site.base, timeout=120)
    if site.signed_in:
        page = http.get("/login").text
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)
        http.post("/login", data={"_xsrf": xsrf, "learner": learner, "code": code})
    return http


def per_learner(site: servers.Site, module: str, people: list, n: int) -> dict:
    site.start()
    try:
        clients = [client(site, *people[i]) for i in range(n)]
        site.wait_idle()
        before, began = site.cpu_seconds(), time.monotonic()
        ok = sum('"kernelId"' in c.get(f"/voila/render/{module}").text for c in clients)
        site.wait_idle(timeout=120)
        used = site.cpu_seconds() - before
        return {"site": site.label, "learners": n, "pages_ok": ok, "cpu_s": used, "cpu_s_per_learner": used / n,
                "wall_s": time.monotonic() - began}
    finally:
        site.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=10)
    parser.add_argument("--pool", type=int, default=2)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="allies-capacity-"))
    code = servers.snapshot(work)
    env = servers.environment(work, code)
    servers.warm_chart_cache(work, code, env)
    people = sorted(servers.make_roster(work, code, env, args.learners).items())
    module = next(m for m in servers.modules(code) if m.startswith("01-"))
    print(f"load average at start: {os.getloadavg()}", flush=True)
    for site in servers.sites(work, code, env, args.pool, ["ours", "plain-pre"]):
        print(per_learner(site, module, people, args.learners), flush=True)
    print(f"load average at end: {os.getloadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
