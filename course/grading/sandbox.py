"""Learner code under an allowlist: the kernel that nbgrader's autograde runs submissions in.

`python -m course instructor init` installs a kernelspec (`allies-grader`) into a grading-only Jupyter folder
of the course directory, and the course's `nbgrader_config.py` selects it (`Execute.kernel_name`) and has
jupyter_client talk to kernels over IPC sockets (`KernelManager.transport = "ipc"`), not TCP. Its command is
this module's launcher:

    python -m course.grading.sandbox [limits…] [--expose PATH…] -f CONNECTION_FILE [kernel args…]

The launcher reads jupyter_client's 0600 connection file, makes a private folder holding a copy of it and the
kernel's sockets, and starts the IPython kernel in Debian's `bubblewrap` (bwrap), which shows it only:
- read-only: the Python installation, the exposed folders (the `course` package, `data/`, `modules/`, the
  chart cache) and the system's libraries (/usr, a few files of /etc);
- its private folder (home, sockets), a private /tmp and a minimal /dev;
- a /proc of its own process namespace: no other process exists for it;
- no network at all (a network namespace with nothing in it: not even other programs' loopback servers);
- as root, a throwaway user id of its own (UID_BASE + the launcher's pid; no passwd entry, no groups, no
  capabilities, no new privileges); without root, the grader's id inside a user namespace.
Resource limits (address space, CPU seconds, file size, processes, open files, no core files) apply too.
When the launcher ends, bwrap and everything the kernel started end with it.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from course.contract import SANDBOXED_ENV

KERNEL_NAME = "allies-grader"
UID_BASE = 2_000_000_000  # throwaway ids (no passwd entry): UID_BASE + launcher pid
LIMITS = {  # defaults; `instructor init` may override them
    "as_mb": 2048,     # address space (virtual memory) per process
    "cpu_s": 300,      # CPU seconds per process
    "fsize_mb": 64,    # largest file a kernel may write
    "nproc": 64,       # processes and threads of the kernel's user id
    "nofile": 256,     # open files
}
INSIDE = "/sandbox"  # where the private folder appears in the kernel's view
TMP_MB = 256  # each of the kernel's /tmp and /var/tmp (memory-backed)
PREFIX = "allies-kernel-"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/fonts",
                "/etc/mime.types")
ENV_KEEP = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "PYTHONPATH",
            "NBGRADER_EXECUTION", "MPLBACKEND", "PYTHONHASHSEED")


def bwrap() -> str | None:
    return shutil.which("bwrap")


def needed_paths() -> list[str]:
    """What a grading kernel must be able to read besides the system: the interpreter, the installed
    packages, the course package and the folders it reads (data, modules, the chart cache)."""
    from course.paths import ROOT, folder

    paths = {sys.base_prefix, sys.prefix, str(ROOT / "course")}
    paths |= {str(folder(name)) for name in ("data", "modules", "cache")}
    return sorted({os.path.realpath(p) for p in paths if os.path.isdir(p)})


def _limits(limits: dict) -> None:
    mb = 1024 * 1024
    table = [(resource.RLIMIT_AS, limits["as_mb"] * mb, limits["as_mb"] * mb),
             (resource.RLIMIT_CPU, limits["cpu_s"], limits["cpu_s"] + 5),
             (resource.RLIMIT_FSIZE, limits["fsize_mb"] * mb, limits["fsize_mb"] * mb),
             (resource.RLIMIT_NPROC, limits["nproc"], limits["nproc"]),
             (resource.RLIMIT_NOFILE, limits["nofile"], limits["nofile"]),
             (resource.RLIMIT_CORE, 0, 0)]
    for which, soft, hard in table:
        _, old_hard = resource.getrlimit(which)
        if old_hard != resource.RLIM_INFINITY:  # never ask for more than we have
            soft, hard = min(soft, old_hard), min(hard, old_hard)
        resource.setrlimit(which, (soft, hard))


def _environment(environ=None) -> dict:
    """A clean environment: no tokens or paths of the grader's, only PATH, locale and the kernel's folders."""
    env = {k: v for k, v in (os.environ if environ is None else environ).items()
           if k in ENV_KEEP or (k.startswith("ALLIES_") and k.endswith("_DIR"))}
    home = f"{INSIDE}/home"
    env.update(HOME=home, IPYTHONDIR=f"{home}/.ipython", MPLCONFIGDIR=f"{home}/.matplotlib", TMPDIR="/tmp",
               JUPYTER_RUNTIME_DIR=f"{home}/.runtime", JUPYTER_DATA_DIR=f"{home}/.jupyter-data",
               JUPYTER_CONFIG_DIR=f"{home}/.jupyter", XDG_CACHE_HOME=f"{home}/.cache",
               MALLOC_ARENA_MAX="2", PYTHONDONTWRITEBYTECODE="1", **{SANDBOXED_ENV: "1"},
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               JPY_PARENT_PID="1")  # launched by a front end: no terminal banner, and no parent poller (pid 1)
    env.setdefault("PATH", os.defpath)
    return env


def command(private: Path, expose: list[str], uid: int | None, kernel_args: list[str],
            info_fd: int | None = None) -> list[str]:
    """The bwrap command line that runs the IPython kernel with only `expose` (and the system) visible."""
    argv = [bwrap(), "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", "grader"]
    if uid is None:
        argv += ["--unshare-user"]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    for path in SYSTEM_FILES:
        argv += ["--ro-bind-try", path, path]
    for tmp in ("/tmp", "/var/tmp"):  # in memory, so bounded: what a kernel writes there is not on the disk
        argv += ["--perms", "1777", "--size", str(TMP_MB * 2**20), "--tmpfs", tmp]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    made = {"/"}
    for path in expose:  # bwrap would make the folders on the way 0700: make them enterable
        for parent in reversed(Path(path).parents):
            if str(parent) not in made:
                made.add(str(parent))
                argv += ["--perms", "0755", "--dir", str(parent)]
        argv += ["--ro-bind", path, path]
    argv += ["--bind", str(private), INSIDE, "--chdir", f"{INSIDE}/home"]
    if info_fd is not None:
        argv += ["--info-fd", str(info_fd)]
    kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", f"{INSIDE}/kernel.json", *kernel_args]
    if uid is not None:  # bwrap runs as root with its capabilities: drop to the throwaway id for good
        argv += ["--", shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}",
                 "--clear-groups", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"]
    else:
        argv += ["--"]
    return argv + kernel


def _private(tmp_root: str | None, uid: int | None, connection: dict) -> Path:
    """The kernel's private folder: home and a copy of the connection file whose sockets live here."""
    private = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=tmp_root))
    for sub in ("home", "home/.ipython", "home/.matplotlib", "home/.runtime"):
        (private / sub).mkdir(mode=0o700)
    inside = {**connection, "transport": "ipc", "ip": f"{INSIDE}/ipc"}
    fd = os.open(private / "kernel.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(inside, fh)
    if uid is not None:
        for here, dirs, files in os.walk(private):
            for name in [here, *(os.path.join(here, n) for n in dirs + files)]:
                os.chown(name, uid, uid)
    return private


def _ports(connection: dict) -> list[int]:
    return [connection[k] for k in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")]


def _signal(pid: int | None, signum: int) -> None:
    if pid:
        try:
            os.kill(pid, signum)
        except OSError:
            pass


def _kernel_of(init: int | None) -> int | None:
    """The kernel's pid: the child of bwrap's init process in the kernel's process namespace."""
    try:
        return int(Path(f"/proc/{init}/task/{init}/children").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def _die_with_parent() -> None:
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def _parse(argv: list[str]):
    parser = argparse.ArgumentParser(prog="python -m course.grading.sandbox", add_help=False)
    parser.add_argument("-f", dest="connection_file", required=True)
    for key, value in LIMITS.items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=int, default=value, dest=key)
    parser.add_argument("--expose", action="append", default=[])
    parser.add_argument("--tmp", default=None, help="where private folders go (default: the system's)")
    parser.add_argument("--uid-base", type=int, default=UID_BASE)
    opts, rest = parser.parse_known_args(argv)
    opts.limits = {key: getattr(opts, key) for key in LIMITS}
    opts.expose = [os.path.realpath(p) for p in opts.expose if os.path.isdir(p)]
    return opts, rest


def launch(argv: list[str] | None = None) -> int:
    """The kernelspec's command: see the module's docstring."""
    opts, kernel_args = _parse(sys.argv[1:] if argv is None else argv)
    connection = json.loads(Path(opts.connection_file).read_text())  # 0600, ours: read it first
    if connection.get("transport") != "ipc":
        print("[allies sandbox] the grading kernel has no network: set KernelManager.transport = 'ipc' "
              "(the course's nbgrader_config.py does)", file=sys.stderr, flush=True)
        return 78
    if not bwrap():
        print("[allies sandbox] bubblewrap is missing: apt-get install bubblewrap", file=sys.stderr, flush=True)
        return 78
    # If the grader goes, the launcher goes, then bwrap, then its init, whose end ends the kernel's namespace.
    _die_with_parent()
    uid = opts.uid_base + os.getpid() if os.geteuid() == 0 else None
    private = _private(opts.tmp, uid, connection)
    links = []
    for port in _ports(connection):  # jupyter_client connects to {ip}-{port}; the kernel binds in private/
        link = f"{connection['ip']}-{port}"
        os.symlink(private / f"ipc-{port}", link)
        links.append(link)
    info_r, info_w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(info_r)
            os.setpgid(0, 0)  # jupyter_client signals our process group; the launcher passes signals on
            _limits(opts.limits)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.set_inheritable(info_w, True)
            argv = command(private, opts.expose, uid, kernel_args, info_fd=info_w)
            _die_with_parent()
            os.execve(argv[0], argv, _environment())
        except BaseException as exc:  # say why, never fall through into the launcher's code
            print(f"[allies sandbox] could not start the kernel: {exc!r}", file=sys.stderr, flush=True)
        os._exit(70)
    os.close(info_w)
    kernel = {}

    def forward(signum, _frame):
        """jupyter_client signals our process group (interrupts, terminate): pass the signal to the kernel;
        after a terminate, kill bwrap (and so the kernel's whole namespace) if it is still there 2 s later."""
        if signum == signal.SIGTERM:
            signal.signal(signal.SIGALRM, lambda *_: _signal(child, signal.SIGKILL))
            signal.alarm(2)
        _signal(_kernel_of(kernel.get("init")), signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    with os.fdopen(info_r) as info:
        try:
            kernel["init"] = json.load(info).get("child-pid")
        except ValueError:  # bwrap failed before it started the kernel: its message is on stderr
            pass
    status = 0
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            break
    for link in links:
        try:
            os.unlink(link)
        except FileNotFoundError:
            pass
    shutil.rmtree(private, ignore_errors=True)
    return os.waitstatus_to_exitcode(status) if status else 0


def sweep(tmp_root: str | None = None) -> int:
    """Remove private folders whose launcher is gone (a launcher killed with SIGKILL cannot clean up; bwrap
    and the kernel die with it). Returns how many."""
    removed = 0
    for folder in Path(tmp_root or tempfile.gettempdir()).glob(f"{PREFIX}*-*"):
        pid = folder.name[len(PREFIX):].split("-")[0]
        try:
            alive = b"course.grading.sandbox" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            alive = False
        if not alive:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


# -- installing the kernelspec -----------------------------------------------------------------------------

def kernelspec(limits: dict | None = None, tmp_root: str | None = None) -> dict:
    """The kernel.json of the sandboxed grading kernel."""
    limits = {**LIMITS, **(limits or {})}
    argv = [sys.executable, "-m", "course.grading.sandbox"]
    for key, value in limits.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    for path in needed_paths():
        argv += ["--expose", path]
    if tmp_root:
        argv += ["--tmp", str(tmp_root)]
    argv += ["-f", "{connection_file}"]
    return {"argv": argv, "display_name": "Allies in Tech grader (sandboxed)", "language": "python",
            "interrupt_mode": "signal", "metadata": {"debugger": False}}


def install(jupyter_dir: Path, limits: dict | None = None, tmp_root: str | None = None) -> Path:
    """Write the kernelspec into `jupyter_dir/kernels/allies-grader/`; returns its folder."""
    if not bwrap():
        raise SystemExit("grading runs learner code in bubblewrap, which is missing: "
                         "apt-get install bubblewrap (`make install` does)")
    folder = Path(jupyter_dir) / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps(kernelspec(limits, tmp_root), indent=1) + "\n",
                                        encoding="utf-8")
    return folder


def describe() -> str:
    """One line for logs: what the sandbox will do on this machine."""
    who = ("its own throwaway user id" if os.geteuid() == 0
           else f"uid {os.getuid()} in a user namespace (run as root for a throwaway id per kernel)")
    return (f"sandbox: bubblewrap; each kernel sees only Python, the course package and its data, no network, "
            f"no other process; runs as {who}, with resource limits")


if __name__ == "__main__":
    sys.exit(launch())
