"""A throwaway PostgreSQL cluster for tests and benches: Debian's `postgresql` server (`make postgresql`
installs it), initialised in a temporary folder, listening on a unix socket only, removed when stopped.

PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user the Debian package
creates, and only the folder it needs is handed to that user. Clients connect as the cluster's superuser
`allies` to its database `allies` over the socket (trust authentication: nothing listens on a network port).
"""
from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "allies"
DATABASE = "allies"


def server_bin() -> Path | None:
    """The newest installed server's bin folder (/usr/lib/postgresql/<version>/bin), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


class Cluster:
    """A running cluster; `url(name)` is a database in it (see `database`)."""

    def __init__(self, root: Path, bin_dir: Path, run_as: list[str]) -> None:
        self.root, self.bin, self._run_as = root, bin_dir, run_as
        self.data, self.socket = root / "data", root / "socket"
        self._names = itertools.count()

    def _run(self, *args: str) -> None:
        subprocess.run(self._run_as + list(args), check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self.socket.mkdir()
        if self._run_as:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.socket, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                  "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions")
        # The superuser signs in without a password over the socket; every other role (a learner's, made by
        # course.store.roles) with its password, as on a real server.
        (self.data / "pg_hba.conf").write_text(f"local all {SUPERUSER} trust\nlocal all all scram-sha-256\n")
        # fsync stays on (the default): the crash tests and the benches measure the real thing.
        options = f"-c listen_addresses='' -c unix_socket_directories={self.socket} -c max_connections=200"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "server.log"), "-w", "start")
        self._run(str(self.bin / "createdb"), "-h", str(self.socket), "-U", SUPERUSER, DATABASE)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket}"

    def database(self, prefix: str = "store") -> str:
        """A new, empty store: a schema of its own in the cluster's one database (much quicker to make than
        a database); returns a URL whose connections work in that schema."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(DATABASE), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return f"{self.url(DATABASE)}&options=-csearch_path%3D{name}"

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def server_pids(self) -> list[int]:
        """The postmaster and every process it has started."""
        main = self.postmaster_pid()
        children = Path(f"/proc/{main}/task/{main}/children").read_text().split()
        return [main] + [int(pid) for pid in children]


@contextlib.contextmanager
def cluster():
    """Start a throwaway cluster; yields a Cluster and stops and removes it on exit."""
    bin_dir = server_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL's server is not installed: run `make postgresql` (Debian's postgresql)")
    run_as: list[str] = []
    if os.geteuid() == 0:
        pwd.getpwnam("postgres")  # created by Debian's postgresql package
        run_as = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="allies-pg-"))
    os.chmod(root, 0o700)
    running = Cluster(root, bin_dir, run_as)
    try:
        running.start()
        yield running
    finally:
        running.stop()
