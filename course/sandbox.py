"""Learner code under limits: the kernel that nbgrader's autograde runs submissions in.

`python -m course instructor init` installs a kernelspec (`allies-grader`) into a grading-only Jupyter
folder of the course directory, and the course's `nbgrader_config.py` selects it with
`Execute.kernel_name`. Its command is this module's launcher:

    python -m course.sandbox [limits…] [--hide PATH…] [--expose PATH…] -f CONNECTION_FILE [kernel args…]

The launcher (started by jupyter_client, in the kernel's own process group) reads the connection file
while it still can (jupyter_client writes it 0600 for its own user), makes a private folder (home, IPython,
matplotlib and temp folders, and a private copy of the connection file), then forks the kernel:

- resource limits: address space, CPU seconds, file size, processes, open files, no core files;
- when the launcher runs as root:
  - a private mount namespace in which the course directory, the exchange, the cohort's instance folder and
    the repository (its `solutions/`, tests and history hold the answers) are covered by empty read-only
    folders, and only what a kernel needs is put back, read-only: the Python installation, the `course`
    package, `data/`, `modules/` and the chart cache. A folder on the way to the interpreter that others
    may not enter (here the interpreter lives under /root, mode 0700) is covered the same way;
  - then it drops to a throwaway user id of its own (UID_BASE + the launcher's pid; no passwd entry, no
    groups, no new privileges): kernels graded side by side cannot signal, trace or read each other, and
    nothing the learner wrote is readable by anyone else;
  - when the kernel ends, every process left with that id is killed and every file it left in the
    shared temp folders is removed;
- a clean environment: no tokens or paths of the grader's, only PATH, locale and the course's own folders.

Without root the launcher applies the resource limits, the private folder and the clean environment only,
and says so on stderr: learner code then runs as the grader's user and can read what it can read.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import shutil
import signal
import stat
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "allies-grader"
UID_BASE = 2_000_000_000  # throwaway ids (no passwd entry): UID_BASE + launcher pid
LIMITS = {  # defaults; `instructor init` may override them
    "as_mb": 2048,     # address space (virtual memory) per process
    "cpu_s": 300,      # CPU seconds per process
    "fsize_mb": 64,    # largest file a kernel may write
    "nproc": 64,       # processes and threads of the kernel's user id
    "nofile": 256,     # open files
}
SHARED_TEMP = ("/tmp", "/var/tmp", "/dev/shm")
ENV_KEEP = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "PYTHONPATH",
            "JPY_PARENT_PID", "NBGRADER_EXECUTION", "MPLBACKEND", "PYTHONHASHSEED")
ENV_KEEP_SUFFIX = "_DIR"  # ALLIES_<NAME>_DIR: the course's own folders (course.paths)

# Linux constants (not all in the os module of Python 3.11)
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = (
    1, 2, 4, 32, 4096, 8192, 16384, 1 << 18)
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


# -- what the kernel may see ----------------------------------------------------------------------------

def needed_paths() -> list[str]:
    """What a grading kernel must be able to read: the interpreter, the installed packages, the course
    package and the folders it reads (data, modules, the chart cache)."""
    from .paths import ROOT, folder

    paths = {sys.base_prefix, sys.prefix, str(ROOT / "course")}
    paths |= {str(folder(name)) for name in ("data", "modules", "cache")}
    return sorted({os.path.realpath(p) for p in paths if os.path.isdir(p)})


def secret_paths(*extra: str | os.PathLike) -> list[str]:
    """What a grading kernel must not see: the repository (solutions, tests and git history hold the
    answers) and the given folders (course directory, exchange, cohort instance)."""
    from .paths import ROOT, folder

    paths = {str(ROOT), str(folder("solutions")), *(str(p) for p in extra if p)}
    return sorted({os.path.realpath(p) for p in paths})


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _blocked_ancestor(path: str) -> str | None:
    """The outermost folder on the way to `path` that other users may not enter."""
    parts = Path(path).parts
    for i in range(2, len(parts) + 1):
        here = str(Path(*parts[:i]))
        if not os.stat(here).st_mode & stat.S_IXOTH:
            return here
    return None


def _covers(expose: list[str], hide: list[str], keep: list[str]) -> list[str]:
    """Folders to cover with an empty one: the hidden ones and those that block an exposed path; never
    one that would hide a folder in `keep` (the kernel's private folder) or the root."""
    covers = set(hide)
    for path in expose:
        blocked = _blocked_ancestor(path)
        if blocked:
            covers.add(blocked)
    covers = {c for c in covers if c != "/" and not any(_inside(k, c) for k in keep)}
    return sorted(c for c in covers if not any(c != o and _inside(c, o) for o in covers))


def _private_mounts(expose: list[str], hide: list[str], private: Path) -> list[str]:
    """In a new mount namespace, cover each folder of `_covers` with an empty read-only tmpfs and put the
    exposed paths under it back, read-only. Returns the covered folders."""
    libc = _libc()
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]

    def mount(src, dst, fstype, flags, data=None):
        enc = (lambda s: s.encode() if isinstance(s, str) else s)
        _check(libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)), f"mount {dst}")

    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    covers = _covers(expose, hide, [str(private)])
    stage = private / ".stage"
    for n, cover in enumerate(covers):
        inside = [p for p in expose if _inside(p, cover)]
        if cover in inside:  # exposing the whole folder: nothing to cover
            continue
        staged = []
        for i, path in enumerate(inside):
            spot = stage / f"{n}-{i}"
            spot.mkdir(parents=True)
            mount(path, str(spot), None, MS_BIND | MS_REC)
            staged.append((spot, path))
        mount("tmpfs", cover, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
        for spot, path in staged:
            os.makedirs(path, mode=0o755, exist_ok=True)
            mount(str(spot), path, None, MS_MOVE)
            mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        mount(None, cover, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0755")
    return covers


# -- limits and identity ----------------------------------------------------------------------------------

def _set_limits(limits: dict) -> None:
    mb = 1024 * 1024
    table = [(resource.RLIMIT_AS, limits["as_mb"] * mb, limits["as_mb"] * mb),
             (resource.RLIMIT_CPU, limits["cpu_s"], limits["cpu_s"] + 5),
             (resource.RLIMIT_FSIZE, limits["fsize_mb"] * mb, limits["fsize_mb"] * mb),
             (resource.RLIMIT_NPROC, limits["nproc"], limits["nproc"]),
             (resource.RLIMIT_NOFILE, limits["nofile"], limits["nofile"]),
             (resource.RLIMIT_CORE, 0, 0)]
    for which, soft, hard in table:
        old_soft, old_hard = resource.getrlimit(which)
        if old_hard != resource.RLIM_INFINITY:  # never ask for more than we have
            soft, hard = min(soft, old_hard), min(hard, old_hard)
        resource.setrlimit(which, (soft, hard))


def _kill_all(uid: int) -> None:
    """Kill every process of `uid`: a child that becomes `uid` and signals everything it may (kill(-1));
    again while it found something, in case one was forking at that moment."""
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            found = 0
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
                found = 1
            except OSError:  # ProcessLookupError: nothing to kill
                pass
            os._exit(found)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 1:
            return


def _remove_owned(uid: int, folders=SHARED_TEMP) -> None:
    """Remove what `uid` left at the top of the shared temp folders."""
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


def _kept(environ) -> dict:
    return {k: v for k, v in environ.items()
            if k in ENV_KEEP or (k.startswith("ALLIES_") and k.endswith(ENV_KEEP_SUFFIX))}


def _clean_env(private: Path, environ=None) -> dict:
    env = _kept(os.environ if environ is None else environ)
    home = private / "home"
    env.update(HOME=str(home), IPYTHONDIR=str(home / ".ipython"), MPLCONFIGDIR=str(home / ".matplotlib"),
               TMPDIR=str(private / "tmp"), JUPYTER_RUNTIME_DIR=str(private / "runtime"),
               JUPYTER_DATA_DIR=str(home / ".jupyter-data"), JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
               XDG_CACHE_HOME=str(home / ".cache"), XDG_CONFIG_HOME=str(home / ".config"),
               MALLOC_ARENA_MAX="2", PYTHONDONTWRITEBYTECODE="1", ALLIES_SANDBOXED="1",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.setdefault("PATH", os.defpath)
    return env


def _make_private(tmp_root: str | None, uid: int | None, connection: bytes) -> Path:
    if uid is None:
        private = Path(tempfile.mkdtemp(prefix="allies-kernel-", dir=tmp_root))
    else:
        private = _private_folder(tmp_root, uid)
        shutil.rmtree(private, ignore_errors=True)  # left by an earlier kernel with the same id
        private.mkdir(mode=0o700)
    for sub in ("home", "home/.ipython", "home/.matplotlib", "tmp", "runtime"):
        (private / sub).mkdir(mode=0o700, exist_ok=True)
    fd = os.open(private / "kernel.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(connection)
    if uid is not None:
        for here, dirs, files in os.walk(private):
            for name in [here, *(os.path.join(here, n) for n in dirs + files)]:
                os.chown(name, uid, uid)
    return private


def _private_folder(tmp_root: str | None, uid: int) -> Path:
    return Path(tmp_root or tempfile.gettempdir()) / f"allies-kernel-{uid}"


def _become_kernel(opts, private: Path, uid: int | None, launcher: int, kernel_args: list[str]) -> None:
    """In the forked child: limits, namespace, identity, then exec the IPython kernel. Never returns."""
    _confine(opts, private, uid, launcher)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", str(private / "kernel.json"), *kernel_args]
    os.execve(sys.executable, argv, _clean_env(private))


def _confine(opts, private: Path, uid: int | None, parent: int) -> None:
    """Limits, private mounts and the throwaway identity, in the process that becomes the kernel."""
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a fresh interpreter
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if uid is not None:
        try:
            _private_mounts(opts.expose, opts.hide, private)
        except OSError as exc:  # no mount namespaces here (a container without CAP_SYS_ADMIN, say)
            blocked = sorted({b for b in map(_blocked_ancestor, opts.expose) if b})
            if blocked:  # never fall back to running learner code as root
                raise RuntimeError(f"no private mount namespace ({exc}), and the kernel's own user could not "
                                   f"reach {', '.join(blocked)}: grade as an unprivileged user instead "
                                   "(resource limits only)") from exc
            print(f"[allies sandbox] no private mount namespace ({exc}): the course directory is protected "
                  "by its permissions only", file=sys.stderr, flush=True)
    _set_limits(opts.limits)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the size limit fails instead of killing
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)  # real, effective and saved ids: no way back
        try:
            os.setuid(0)
        except PermissionError:
            pass
        else:
            raise RuntimeError("could not drop privileges")
    libc = _libc()
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # after setuid, which clears it
    if os.getppid() != parent:
        os._exit(1)
    os.umask(0o077)
    os.chdir(private / "home")


def _parse(argv: list[str]):
    parser = argparse.ArgumentParser(prog="python -m course.sandbox", add_help=False)
    parser.add_argument("-f", dest="connection_file", required=True)
    for key, value in LIMITS.items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=int, default=value, dest=key)
    parser.add_argument("--hide", action="append", default=[])
    parser.add_argument("--expose", action="append", default=[])
    parser.add_argument("--tmp", default=None, help="where private folders go (default: the system's)")
    parser.add_argument("--uid-base", type=int, default=UID_BASE)
    opts, rest = parser.parse_known_args(argv)
    opts.limits = {key: getattr(opts, key) for key in LIMITS}
    opts.hide = [os.path.realpath(p) for p in opts.hide if os.path.isdir(p)]
    opts.expose = [os.path.realpath(p) for p in opts.expose if os.path.isdir(p)]
    return opts, rest


def launch(argv: list[str] | None = None) -> int:
    """The kernelspec's command: see the module's docstring."""
    opts, kernel_args = _parse(sys.argv[1:] if argv is None else argv)
    if os.environ.get(ZYGOTE_ENV) and os.geteuid() == 0:
        try:
            return _launch_via_zygote(os.environ[ZYGOTE_ENV], opts, kernel_args)
        except ConnectionError as exc:  # no template to fork from: start a kernel from scratch
            print(f"[allies sandbox] zygote unavailable ({exc}); starting a fresh kernel", file=sys.stderr)
    connection = Path(opts.connection_file).read_bytes()  # before anything else: it is 0600, ours
    root = os.geteuid() == 0
    uid = opts.uid_base + os.getpid() if root else None
    if not root:
        print(f"[allies sandbox] not running as root: resource limits only; learner code runs as uid "
              f"{os.getuid()} and can read what that user can.", file=sys.stderr, flush=True)
    private = _make_private(opts.tmp, uid, connection)
    if uid is not None:
        _kill_all(uid)  # anything left by an earlier kernel that had the same id
    launcher = os.getpid()
    child = os.fork()
    if child == 0:
        try:
            _become_kernel(opts, private, uid, launcher, kernel_args)
        except BaseException as exc:  # say why, never fall through into the launcher's code
            print(f"[allies sandbox] could not start the kernel: {exc!r}", file=sys.stderr, flush=True)
        os._exit(70)
    # The kernel shares our process group, so jupyter_client's interrupts and kills reach it directly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _terminate_on_sigterm(child)
    status = 0
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            break
    if uid is not None:
        _kill_all(uid)
        _remove_owned(uid)
    shutil.rmtree(private, ignore_errors=True)
    return os.waitstatus_to_exitcode(status) if status else 0


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError:
        pass


def _terminate_on_sigterm(pid: int, grace: int = 2) -> None:
    """On SIGTERM, pass it on to the kernel; if it is still there `grace` seconds later, kill it."""
    def term(*_):
        _signal(pid, signal.SIGTERM)
        signal.alarm(grace)

    signal.signal(signal.SIGALRM, lambda *_: _signal(pid, signal.SIGKILL))
    signal.signal(signal.SIGTERM, term)


# -- a warm template to fork kernels from -----------------------------------------------------------------
# Starting a kernel from scratch costs a new interpreter and ~0.3 s of CPU importing ipykernel, IPython,
# ipywidgets and the course. A grading worker instead runs one zygote: a root process, started fresh with a
# clean environment, that has imported all that (and nothing else: it never reads a connection file or a
# notebook) and forks each kernel from itself. The child confines itself exactly as a launched kernel does
# (private folder, namespace, limits, throwaway id) and runs the IPython kernel in-process. The kernelspec's
# launcher stays the process jupyter_client watches: it asks the zygote for a kernel over a unix socket,
# passes on interrupts and terminations, and exits with the kernel's status; if it dies, the zygote kills
# the kernel's processes. Without a zygote (plain `nbgrader autograde`) the launcher starts a kernel itself.

ZYGOTE_ENV = "ALLIES_SANDBOX_ZYGOTE"
# What a grading kernel imports: the kernel and its debugger, IPython's traceback formatting (failed
# hidden tests), widgets and the course (not matplotlib: charts come from the course's cache).
PRELOAD = ["ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger", "debugpy",
           "IPython", "IPython.core.ultratb", "IPython.core.completer", "stack_data", "pygments",
           "pygments.lexers", "pygments.formatters", "executing", "asttokens", "pure_eval", "sqlite3", "pdb",
           "pydoc", "tornado", "ipywidgets", "comm", "course.widgets", "course.figures", "course.validation",
           "course.data", "course.charts"]


def _launch_via_zygote(address: str, opts, kernel_args: list[str]) -> int:
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(address)
    except OSError as exc:
        raise ConnectionError(str(exc)) from exc
    request = {"connection_file": os.path.abspath(opts.connection_file), "kernel_args": kernel_args,
               "env": _kept(os.environ), "limits": opts.limits, "hide": opts.hide, "expose": opts.expose,
               "tmp": opts.tmp, "uid_base": opts.uid_base}
    sock.sendall(json.dumps(request).encode() + b"\n")
    replies = sock.makefile("rb")
    first = replies.readline()
    if not first:
        raise ConnectionError("the zygote closed the connection")
    pid = json.loads(first)["pid"]
    signal.signal(signal.SIGINT, lambda *_: _signal(pid, signal.SIGINT))  # the kernel is not in our group
    _terminate_on_sigterm(pid)
    last = replies.readline()  # the kernel's exit status, when it ends
    return int(json.loads(last)["status"]) if last else 1


def _preload(names: list[str]) -> None:
    import importlib
    import pkgutil

    for name in names:
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # a missing optional module only costs speed
            print(f"[allies zygote] could not preload {name}: {exc!r}", file=sys.stderr, flush=True)
            continue
        if name == "course.figures":
            for info in pkgutil.iter_modules(module.__path__):
                try:
                    importlib.import_module(f"course.figures.{info.name}")
                except Exception as exc:
                    print(f"[allies zygote] could not preload {info.name}: {exc!r}", file=sys.stderr)


def _warm() -> None:
    """Fill the caches every kernel fills on its first traceback (a failed hidden test is one): the
    module-by-file map of `inspect.getmodule` (a realpath per loaded module) and pygments' compiled lexer."""
    import inspect

    inspect.getmodule(compile("0", "<allies-warm>", "eval"))
    try:
        from IPython.core.ultratb import AutoFormattedTB

        try:
            assert False, "warming up"  # noqa: B011
        except AssertionError:
            AutoFormattedTB(mode="Context").structured_traceback(*sys.exc_info())
    except Exception as exc:
        print(f"[allies zygote] could not warm tracebacks: {exc!r}", file=sys.stderr)


def _run_forked_kernel(request: dict, parent: int) -> None:
    """In a child of the zygote: confine, then run the IPython kernel in this process. Never returns."""
    code = 70
    try:
        os.setsid()  # out of the zygote's process group
        uid = request["uid_base"] + os.getpid()
        connection = Path(request["connection_file"]).read_bytes()
        private = _make_private(request["tmp"], uid, connection)
        _kill_all(uid)
        opts = argparse.Namespace(limits=request["limits"], hide=request["hide"], expose=request["expose"])
        _confine(opts, private, uid, parent)
        env = _clean_env(private, {**os.environ, **request["env"]})
        os.environ.clear()
        os.environ.update(env)
        import random

        random.seed()
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        args = ["-f", str(private / "kernel.json"), *request["kernel_args"]]
        sys.argv = [sys.executable, "-m", "ipykernel_launcher", *args]
        from ipykernel.kernelapp import IPKernelApp

        IPKernelApp.launch_instance(argv=args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException as exc:
        print(f"[allies zygote] kernel failed: {exc!r}", file=sys.stderr, flush=True)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def zygote(address: str, preload: list[str] | None = None) -> int:
    """Serve kernel requests on the unix socket `address` until the parent goes away or SIGTERM."""
    import select
    import socket
    import threading

    parent = os.getppid()
    _libc().prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    os.chdir("/")
    _preload(PRELOAD if preload is None else preload)
    _warm()
    if threading.active_count() != 1:
        print("[allies zygote] threads after preloading; forking would not be safe", file=sys.stderr)
        return 1
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    server.bind(address)
    os.umask(old)
    server.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    stopping = []
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    kernels: dict[int, tuple] = {}  # pid -> (connection to its launcher, uid, tmp)
    by_conn: dict = {}

    def finish(pid: int, status: int) -> None:
        conn, uid, tmp = kernels.pop(pid)
        by_conn.pop(conn, None)
        try:
            conn.sendall(json.dumps({"status": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
        except OSError:
            pass
        conn.close()
        _kill_all(uid)
        _remove_owned(uid)
        shutil.rmtree(_private_folder(tmp, uid), ignore_errors=True)

    print("[allies zygote] ready", file=sys.stderr, flush=True)
    while not stopping and os.getppid() == parent:
        try:
            ready, _, _ = select.select([server, wake_r, *by_conn], [], [], 1.0)
        except InterruptedError:
            continue
        if wake_r in ready:
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        while kernels:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in kernels:
                finish(pid, status)
        for conn in [c for c in ready if c in by_conn]:  # a launcher went away: end its kernel
            try:
                gone = not conn.recv(64)
            except OSError:
                gone = True
            if gone:
                pid = by_conn.pop(conn)
                _kill_all(kernels[pid][1])
        if server in ready:
            conn, _ = server.accept()
            conn.settimeout(10)
            try:
                request = json.loads(conn.makefile("rb").readline())
            except (OSError, ValueError):
                conn.close()
                continue
            conn.settimeout(None)
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                for fd in (wake_r, wake_w):
                    os.close(fd)
                server.close()
                for other in [conn, *by_conn]:
                    other.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                _run_forked_kernel(request, os.getppid())
            uid = request["uid_base"] + pid
            kernels[pid] = (conn, uid, request["tmp"])
            by_conn[conn] = pid
            try:
                conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            except OSError:
                _kill_all(uid)
    for pid, (conn, uid, tmp) in list(kernels.items()):
        _kill_all(uid)
    for pid in list(kernels):
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            status = 0
        finish(pid, status)
    server.close()
    with contextlib_suppress(OSError):
        os.unlink(address)
        os.rmdir(os.path.dirname(address))  # the private folder start_zygote made for the socket
    return 0


def start_zygote(folder: str | Path, log=None):
    """Start a zygote for this process (root only); returns (Popen, socket address), or None. Set
    ZYGOTE_ENV to the address in the environment kernels are launched from."""
    import subprocess
    import time

    if os.geteuid() != 0:
        return None
    address = str(Path(folder) / f"zygote-{os.getpid()}.sock")
    with contextlib_suppress(FileNotFoundError):
        os.unlink(address)
    env = {k: v for k, v in os.environ.items() if k in ENV_KEEP or k.startswith("ALLIES_")}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MALLOC_ARENA_MAX="2")
    env.pop(ZYGOTE_ENV, None)
    proc = subprocess.Popen([sys.executable, "-m", "course.sandbox", "zygote", address], env=env,
                            stdin=subprocess.DEVNULL, stdout=log or subprocess.DEVNULL,
                            stderr=log or subprocess.DEVNULL, close_fds=True, cwd="/")
    deadline = time.monotonic() + 60
    while not os.path.exists(address):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            return None
        time.sleep(0.05)
    return proc, address


def contextlib_suppress(*errors):
    import contextlib

    return contextlib.suppress(*errors)


# -- after a grading run -------------------------------------------------------------------------------

def sweep(uid_base: int = UID_BASE, tmp_root: str | None = None) -> int:
    """Kill sandbox processes whose launcher is gone (a kernel killed with SIGKILL takes its launcher
    with it, before it could clean up) and remove their private folders. Returns how many processes."""
    if os.geteuid() != 0:
        return 0
    span = range(uid_base, uid_base + 2**22 + 1)
    orphans = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            uid = entry.stat().st_uid
        except OSError:
            continue
        if uid in span and not _owned(uid - uid_base, uid):
            orphans.add(uid)
    for uid in orphans:
        _kill_all(uid)
        _remove_owned(uid)
    for folder in Path(tmp_root or tempfile.gettempdir()).glob("allies-kernel-*"):
        try:
            uid = folder.stat().st_uid
        except OSError:
            continue
        if uid in span and not _owned(uid - uid_base, uid):
            shutil.rmtree(folder, ignore_errors=True)
    return len(orphans)


def _sandbox_process(pid: int | str) -> bool:
    """A root process running this module (a launcher or a zygote)."""
    try:
        return (b"course.sandbox" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                and os.stat(f"/proc/{pid}").st_uid == 0)
    except OSError:
        return False


def _owned(pid: int, uid: int) -> bool:
    """Whether sandbox id `uid` still belongs to a live kernel: its launcher (uid = base + launcher pid) or,
    for a kernel forked by a zygote (uid = base + its own pid), that kernel under its zygote."""
    if _sandbox_process(pid):
        return True
    try:
        if os.stat(f"/proc/{pid}").st_uid != uid:
            return False
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return _sandbox_process(fields[1])
    except OSError:
        return False


# -- installing the kernelspec -----------------------------------------------------------------------------

def kernelspec(hide: list[str], limits: dict | None = None, tmp_root: str | None = None) -> dict:
    """The kernel.json of the sandboxed grading kernel."""
    limits = {**LIMITS, **(limits or {})}
    argv = [sys.executable, "-m", "course.sandbox"]
    for key, value in limits.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    for path in secret_paths(*hide):
        argv += ["--hide", path]
    for path in needed_paths():
        argv += ["--expose", path]
    if tmp_root:
        argv += ["--tmp", str(tmp_root)]
    argv += ["-f", "{connection_file}"]
    return {"argv": argv, "display_name": "Allies in Tech grader (sandboxed)", "language": "python",
            "interrupt_mode": "signal", "metadata": {"debugger": False}}


def install(jupyter_dir: Path, hide: list[str], limits: dict | None = None,
            tmp_root: str | None = None) -> Path:
    """Write the kernelspec into `jupyter_dir/kernels/allies-grader/`; returns its folder."""
    folder = Path(jupyter_dir) / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps(kernelspec(hide, limits, tmp_root), indent=1) + "\n",
                                        encoding="utf-8")
    return folder


def describe() -> str:
    """One line for logs: what the sandbox will do on this machine."""
    if os.geteuid() == 0:
        return ("sandbox: each submission runs as its own throwaway user id in a private mount namespace "
                "(course directory, exchange and repository hidden), with resource limits")
    return (f"sandbox: not running as root, so resource limits only: learner code runs as uid {os.getuid()} "
            "and can read what that user can (run grading as root for the full sandbox)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["zygote"]:
        sys.exit(zygote(sys.argv[2]))
    sys.exit(launch())
