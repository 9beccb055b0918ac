"""The course's JupyterHub (deploy/jupyterhub/jupyterhub_config.py, as shipped) on loopback, for tests/test_hub.py,
tests/test_hub_signin.py, bench/hub.py and bench/hub_load.py: configurable-http-proxy from npm (`make hub-proxy`),
and only the spawner (SimpleLocalProcessSpawner: every learner's server as this user) swapped in, and the sign-in
(a password authenticator) unless the hub keeps a set-up of the shipped file (`auth`: lti, oidc)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from bench.servers import KERNEL_ID, LOG_EVENTS, ProcessTree, count_events

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "jupyterhub"
PROXY = DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD = "a test password for everyone"

OVERLAY = """\
# The test's spawner (and sign-in, unless the shipped set-up's) on top of the shipped configuration.
c = get_config()  # noqa: F821
load_subconfig({config!r})  # noqa: F821
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = {homes!r} + "/{{username}}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.Spawner.environment = {environment!r}
if {root_user!r}:  # CI runs as root; jupyter_server then wants to be told
    c.Spawner.args = ["--allow-root"]
"""
PASSWORDS = """\
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allowed_users = {users!r}
"""


# What the hub's log (its own, the proxy's and learners' servers' output) says went wrong, besides their kernels'
# LOG_EVENTS: a learner's server that lost its port to another process before binding it (the local-process
# spawner picks a free port, then the server binds it), slow to answer the hub, or never started.
HUB_LOG_EVENTS = {**LOG_EVENTS, "server's port taken": "could not be started because port",
                  "server slow to answer": "is slow to become responsive",
                  "server start failed": "Unhandled error starting"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def instructor(*args: str) -> str:
    """`python -m course instructor …`; its output, or AssertionError with it."""
    done = subprocess.run([sys.executable, "-m", "course", "instructor", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class Hub(ProcessTree):
    """The hub in `folder`: learners' homes in folder/home, the hub's own folder (ALLIES_HUB_ROOT) in folder/hub.
    `environment`: set in every learner's server besides the course's own (a bench's chart cache)."""

    def __init__(self, folder: Path, learners: list[str], instructors: list[str], store_url: str | None = None,
                 environment: dict[str, str] | None = None, auth: str = "custom", env: dict[str, str] | None = None):
        self.folder, self.learners, self.instructors = folder, learners, instructors
        self.store_url = store_url  # a shared PostgreSQL store (ALLIES_HUB_STORE_URL), or a SQLite file each
        self.environment = environment or {}
        # ALLIES_HUB_AUTH: "custom" is the test's password sign-in; "lti" or "oidc" keep the shipped set-up,
        # which reads its variables from `env` (the hub's own environment).
        self.auth, self.env = auth, env or {}
        self.root = folder / "hub"
        self.port, self.hub_port, self.api_port, self.dashboard_port = free_port(), free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "hub.log"
        self.proc = None

    def home(self, user: str) -> Path:
        return self.folder / "home" / user

    def init_course(self, modules: list[str]) -> None:
        """The instructors' course directory (their servers run the formgrader in it)."""
        if not PROXY.exists():
            raise SystemExit("configurable-http-proxy is not installed: run `make hub-proxy`")
        roster = self.folder / "roster.csv"
        roster.write_text("learner_id,display_name,role\n"
                          + "".join(f"{n},{n.title()},learner\n" for n in self.learners)
                          + "".join(f"{n},{n.title()},instructor\n" for n in self.instructors), encoding="utf-8")
        instructor("init", str(self.root / "grading"), "--roster", str(roster), "--instance", str(self.root / "cohort"),
                   "--exchange", str(self.root / "exchange"), *(f"--module={m}" for m in modules), "--no-check")

    def start(self, timeout: float = 180) -> "Hub":
        users = [*self.learners, *self.instructors]
        for user in users:
            self.home(user).mkdir(parents=True, exist_ok=True)
        overlay = self.folder / "jupyterhub_config.py"
        overlay.write_text(OVERLAY.format(
            config=str(DEPLOY / "jupyterhub_config.py"), homes=str(self.folder / "home"), hub_port=self.hub_port,
            api_port=self.api_port, environment=self.environment, root_user=os.geteuid() == 0)
            + (PASSWORDS.format(password=PASSWORD, users=set(users)) if self.auth == "custom" else ""))
        env = {**os.environ, "ALLIES_HUB_ROOT": str(self.root), "ALLIES_HUB_URL": self.url,
               "ALLIES_HUB_AUTH": self.auth, "ALLIES_HUB_INSTRUCTORS": ",".join(self.instructors),
               "ALLIES_HUB_CULL": "600", "ALLIES_HUB_DASHBOARD_URL": f"http://127.0.0.1:{self.dashboard_port}",
               **({"ALLIES_HUB_STORE_URL": self.store_url} if self.store_url else {}), **self.env}
        self.proc = subprocess.Popen([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(overlay)],
                                     cwd=self.folder, env=env, stdout=open(self.log, "a"),
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        try:
            while True:
                assert self.proc.poll() is None, self.log.read_text()
                try:
                    if httpx.get(f"{self.url}/hub/api", timeout=5).status_code == 200 and \
                            "is now running" in self.log.read_text():
                        return self
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, self.log.read_text()
                time.sleep(0.5)
        except AssertionError:
            self.stop()  # a hub that gave up (a managed service slow to answer) leaves its proxy and services
            raise

    def processes(self) -> list[psutil.Process]:
        """The hub's proxy, services and learners' servers: the processes that talk to this hub's API."""
        found = []
        for proc in psutil.process_iter(["cmdline", "environ"]):
            try:
                env = proc.info["environ"] or {}
                line = " ".join(proc.info["cmdline"] or [])
            except (psutil.Error, TypeError):
                continue
            if f"127.0.0.1:{self.hub_port}" in env.get("JUPYTERHUB_API_URL", "") \
                    or f"--api-port {self.api_port}" in line:
                found.append(proc)
        return found

    def log_events(self) -> dict[str, int]:
        """How often each of HUB_LOG_EVENTS appears in the hub's log."""
        return count_events(self.log, HUB_LOG_EVENTS) if self.log.exists() else {}

    def tree(self) -> list[psutil.Process]:
        """The hub process and every process under it: the proxy, the culler, learners' servers, their kernels."""
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except (psutil.Error, AttributeError):
            return []

    def part(self, proc: psutil.Process, root: psutil.Process) -> str:
        """"hub" (the hub, its proxy and the culler), "kernels", or "servers" (learners' servers)."""
        try:
            line = " ".join(proc.cmdline())
        except psutil.Error:
            line = ""
        if KERNEL_ID.search(line):
            return "kernels"
        if proc.pid == root.pid or "configurable-http-proxy" in line or "jupyterhub_idle_culler" in line:
            return "hub"
        return "servers"

    def server_of(self, user: str) -> psutil.Process | None:
        """`user`'s single-user server process, once started."""
        return self._first(lambda env: env.get("JUPYTERHUB_USER") == user and "JUPYTERHUB_SERVICE_NAME" not in env)

    def service_of(self, name: str) -> psutil.Process | None:
        """The process of the hub's managed service `name`, once started."""
        return self._first(lambda env: env.get("JUPYTERHUB_SERVICE_NAME") == name)

    def _first(self, wanted) -> psutil.Process | None:
        """The process the hub started whose environment is `wanted` (its kernels inherit that environment)."""
        for proc in self.processes():
            try:
                if proc.ppid() == self.proc.pid and wanted(proc.environ()):
                    return proc
            except psutil.Error:
                continue
        return None

    def stop(self) -> None:
        left = self.processes()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for proc in left:  # what the hub left behind (it does not stop learners' servers on every exit)
            try:
                proc.kill()
            except psutil.Error:
                pass
