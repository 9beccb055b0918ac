"""The servers under test: the course's cohort site and plain Voilà (stock, and preheated), each started in
a subprocess on 127.0.0.1 with its own Jupyter state folders; their kernels found by process.

Servers run a snapshot of the course taken when the bench starts (course/, modules/, data/ copied into the
work folder and put first on PYTHONPATH), so edits made to the repository during a run do not change what
is measured halfway through."""
from __future__ import annotations

import csv
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
KERNEL_ID = re.compile(r"kernel-([0-9a-f-]{36})\.json")
# Server-log lines worth counting after a run: what went wrong, in the server's own words, and learners
# sent the cohort site's waiting page (no kernel free for them yet).
LOG_EVENTS = {"kernel port clash": "Address already in use", "kernel died": "Kernel died before replying",
              "kernel restart": "restarting kernel", "IOPub timeout": "Timeout waiting for IOPub output",
              "uncaught exception": "Uncaught exception", "waiting page": "503 GET /voila/render"}


def count_events(log: Path, events: dict[str, str]) -> dict[str, int]:
    """How often each of `events` (name: the text it shows as) appears in `log`, for those that do."""
    text = log.read_text(encoding="utf-8", errors="replace")
    return {name: text.count(needle) for name, needle in events.items() if needle in text}


def snapshot(work: Path, source: Path = ROOT) -> Path:
    """Copy the course package, its learner notebooks and its data from `source` (the repository) into
    `work`/code; returns that folder."""
    code = work / "code"
    for name in ("course", "modules", "data"):
        shutil.copytree(source / name, code / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return code


def modules(code: Path) -> list[str]:
    """Every learner notebook the sites serve, in course order."""
    return sorted(p.name for p in (code / "modules").glob("[0-9][0-9]-*.ipynb"))


def environment(work: Path, code: Path) -> dict[str, str]:
    """The environment every server (and so every kernel) runs with: the course snapshot first on the
    import path, isolated Jupyter, IPython and matplotlib state, and the course's chart cache in the
    bench's work folder (never in the repository)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
    for key, sub in [("JUPYTER_CONFIG_DIR", "jupyter-config"), ("JUPYTER_DATA_DIR", "jupyter-data"),
                     ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"), ("IPYTHONDIR", "ipython"),
                     ("MPLCONFIGDIR", "mpl"), ("ALLIES_CACHE_DIR", "cache")]:
        env[key] = str(work / sub)
        (work / sub).mkdir(parents=True, exist_ok=True)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # nbgrader and Voilà find their tools
    env["PYTHONUNBUFFERED"] = "1"
    return env


def warm_chart_cache(work: Path, code: Path, env: dict[str, str], every_view: bool = True) -> float:
    """Run every module once outside Voilà, and draw every view of its explorers (`python -m course charts`,
    as `make serve` does), so the course's on-disk chart cache holds every chart (whichever site is measured
    first would otherwise draw the views its slider moves reach); `every_view` False: only the views a page
    first shows, so each slider move draws in the kernel. Returns the seconds it took."""
    start = time.monotonic()
    out = work / "executed"
    notebooks = [str(code / "modules" / m) for m in modules(code)]
    subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute", "--output-dir",
                    str(out), *notebooks], cwd=code, env=env, check=True, capture_output=True, timeout=900)
    if every_view:
        subprocess.run([sys.executable, "-m", "course", "charts"], cwd=code, env=env, check=True,
                       capture_output=True, timeout=1800)
    return time.monotonic() - start


def make_roster(work: Path, code: Path, env: dict[str, str], count: int) -> dict[str, str]:
    """Put `count` learners (b0001…) on a cohort roster; returns {learner_id: access code}."""
    roster = work / "roster.csv"
    roster.write_text("learner_id,display_name\n" + "".join(f"b{i:04d},Bench {i}\n" for i in range(count)),
                      encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "course", "cohort", "add-learners", str(roster),
                             "--instance", str(work / "instance")], cwd=code, env=env, check=True,
                            capture_output=True, text=True, timeout=600)
    return {row["learner_id"]: row["access_code"] for row in csv.DictReader(io.StringIO(result.stdout))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProcessTree:
    """A server under test as a tree of processes (`tree()`: its root first): its kernels, the CPU they use, and
    which part of it each process is (`part`)."""

    def tree(self) -> list[psutil.Process]:
        raise NotImplementedError

    def part(self, proc: psutil.Process, root: psutil.Process) -> str:
        """The part of the server `proc` belongs to, for CPU and memory by part: the root is "server", every
        process under it (kernels, a kernel zygote) "kernels"."""
        return "server" if proc.pid == root.pid else "kernels"

    def kernels(self) -> dict[str, psutil.Process]:
        """The server's kernel processes by kernel id."""
        found = {}
        for p in self.tree()[1:]:
            try:
                match = KERNEL_ID.search(" ".join(p.cmdline()))
            except psutil.Error:
                continue
            if match:
                found[match.group(1)] = p
        return found

    def cpu_seconds(self, server_only: bool = False) -> float:
        """CPU seconds used so far by the server and its live kernels (or by the server process alone)."""
        total = 0.0
        for p in self.tree()[:1] if server_only else self.tree():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def cpu_split(self) -> tuple[float, float]:
        """CPU seconds used so far by the server process and by the processes under it (kernels), each with
        the processes it has reaped: a kernel that ended still counts."""
        used = []
        for p in self.tree():
            try:
                t = p.cpu_times()
                used.append(t.user + t.system + t.children_user + t.children_system)
            except psutil.Error:
                used.append(0.0)
        return (used[0], sum(used[1:])) if used else (0.0, 0.0)

    def wait_idle(self, threshold: float = 0.10, window: float = 0.5, timeout: float = 30.0) -> float:
        """Wait until the server and its kernels use under `threshold` of a core for two windows in a row
        (a preheated pool has refilled); returns the seconds waited."""
        begin = time.monotonic()
        quiet = 0
        while quiet < 2 and time.monotonic() - begin < timeout:
            used = self.cpu_seconds()
            time.sleep(window)
            quiet = quiet + 1 if (self.cpu_seconds() - used) / window < threshold else 0
        return time.monotonic() - begin


@dataclass
class Site(ProcessTree):
    """One server under test. `pool`: preheated kernels per module (0: a kernel is started per request)."""

    key: str
    label: str
    pool: int
    signed_in: bool
    work: Path
    code: Path
    env: dict
    port: int = 0
    proc: subprocess.Popen | None = None
    log: object = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        if self.key == "floor":  # static pages (bench/floor.py), written before the run
            return [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1", "--directory",
                    str(self.work / "floor")]
        if self.key.startswith("ours"):
            return [sys.executable, "-m", "course", "cohort", "serve", "--instance", str(self.work / "instance"),
                    "--port", str(self.port), "--pool-size", str(self.pool),
                    *(["--no-fork-kernels"] if self.key == "ours-spawn" else [])]
        root = "inline/" if self.key == "inline" else "modules/"  # inline: bench/inline.py's baseline
        cmd = [str(BIN / "voila"), root, "--port", str(self.port), "--no-browser", "--Voila.ip=127.0.0.1"]
        return cmd + (["--preheat_kernel=True", f"--pool_size={self.pool}"] if self.pool else [])

    def launch(self, port: int | None = None) -> None:
        """Start the server process in a process group of its own, and return: on `port` (a restart: its log
        goes on), else on a free one."""
        self.port = port or free_port()
        name = self.work / f"{self.key}-{self.port}.log"
        log = self.log = open(name, "a" if port else "w")  # noqa: SIM115 (closed by stop)
        self.proc = subprocess.Popen(self.command(), cwd=self.code, env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def start(self, timeout: float = 180) -> float:
        """Start the server and wait until it answers and its kernel pools are full and idle; returns the
        seconds that took."""
        begin = time.monotonic()
        self.launch()
        log = self.log
        deadline = begin + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited; see {log.name}")
            try:
                if httpx.get(self.base + "/", timeout=5).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.label} did not answer; see {log.name}")
            time.sleep(0.2)
        while len(self.kernels()) < self.pool * len(modules(self.code)) and time.monotonic() < deadline:
            time.sleep(0.3)
        self.wait_idle(timeout=max(5.0, deadline - time.monotonic()))
        return time.monotonic() - begin

    def log_events(self) -> dict[str, int]:
        """How often each of LOG_EVENTS appears in this start's server log."""
        return count_events(Path(self.log.name), LOG_EVENTS) if self.log else {}

    def tree(self) -> list[psutil.Process]:
        """The server process and every process under it."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kernels_started(self) -> int:
        """How many kernels this site's log says were started."""
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace").count("Kernel started:")

    def stop(self) -> None:
        """Stop the server, then any of its processes still alive (by their pid, checked by psutil)."""
        if self.proc is None:
            return
        procs = self.tree()
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for p in procs[1:]:
            try:
                if p.is_running():
                    p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(procs[1:], timeout=10)
        self.proc = None
        self.log.close()


def sites(work: Path, code: Path, env: dict, pool: int, which: list[str]) -> list[Site]:
    """The sites to measure, in order: ours, ours with every kernel started as a new process (as before
    `course.web.forks`), plain Voilà, plain Voilà preheated, a notebook redrawing a chart with inline
    matplotlib on preheated Voilà (`bench/inline.py`), the static floor."""
    every = {"ours": Site("ours", f"cohort site (pool {pool})", pool, True, work, code, env),
             "ours-spawn": Site("ours-spawn", f"cohort site, kernels not forked (pool {pool})", pool, True, work,
                                code, env),
             "plain": Site("plain", "plain Voilà", 0, False, work, code, env),
             "plain-pre": Site("plain-pre", f"plain Voilà preheated (pool {pool})", pool, False, work, code,
                               env),
             "inline": Site("inline", f"inline matplotlib, preheated Voilà (pool {pool})", pool, False, work,
                            code, env),
             "floor": Site("floor", "static page (the floor)", 0, False, work, code, env)}
    return [every[k] for k in which]


def prepare(prefix: str, learners: int) -> tuple[Path, Path, dict, list[tuple[str, str]], str]:
    """A new work folder holding a snapshot of the course, the chart cache filled and `learners` on a cohort
    roster; returns the folder, the snapshot, the servers' environment, the learners (id, access code) and the
    reference module (the one numbered 01)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    code = snapshot(work)
    env = environment(work, code)
    warm_chart_cache(work, code, env)
    people = sorted(make_roster(work, code, env, learners).items())
    return work, code, env, people, next(m for m in modules(code) if m.startswith("01-"))
