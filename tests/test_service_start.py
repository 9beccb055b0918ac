"""A hub service answers at once while it starts (course.web.starting): JupyterHub stops itself when a
service it starts has not answered HTTP within about 10 s, and the dashboard service's imports alone can
take longer on a busy machine. Run as the hub runs the dashboard, with a service whose start waits on a file."""
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.hubs import free_port

ROOT = Path(__file__).resolve().parent.parent


def answer(url: str, deadline: float) -> httpx.Response:
    """The first HTTP answer at `url` (any status) before `deadline`."""
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"nothing answered at {url}"
            time.sleep(0.02)


def test_a_slow_service_answers_at_once_then_serves_on_the_same_port(tmp_path):
    port, gate = free_port(), tmp_path / "imports-done"
    url = f"http://127.0.0.1:{port}/services/dashboard/"
    env = {**os.environ, "GATE": str(gate), "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "helpers"), str(ROOT)])}
    proc = subprocess.Popen([sys.executable, "-m", "course.web.starting", "slow_service"], env=env, cwd=tmp_path)
    try:
        first = answer(url, time.monotonic() + 60)
        # The hub takes any answer under 500 as up; a browser sent there is told to come back.
        assert first.status_code == 200, first.status_code
        assert "is starting" in first.text and first.headers["Refresh"] == "2"
        assert first.headers["Cache-Control"] == "no-store"
        assert "<h1>" in first.text and "lang='en'" in first.text
        posted = httpx.post(url, content=b"x", timeout=5)  # nothing can be done yet, and it says so
        assert posted.status_code == 503 and "is starting" in posted.text and "Python" not in posted.headers["Server"]
        assert proc.poll() is None
        gate.touch()
        deadline = time.monotonic() + 60
        while (reply := answer(url, deadline)).text != "served":
            assert "is starting" in reply.text, reply.text
            assert time.monotonic() < deadline, "the service never took its port over"
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait()
