"""Kernels forked from a warm process: a learner's kernel starts without paying again for Python's start and
the imports every module page needs (ipykernel, ipywidgets, numpy, matplotlib, the course's figures).

The server starts one "zygote" per Python (`Zygote`): a plain, single-threaded process that imports all that,
freezes it for the garbage collector, and then only forks, on request over a socket pair that only the
server holds. It opens no ZeroMQ context, no event loop, no thread and no file that a kernel could inherit.
Each child becomes what `python -m ipykernel_launcher -f <connection file>` would be: a session of its own,
the environment, working folder and arguments the server asked for, its standard input from /dev/null,
every other inherited descriptor closed, fresh random seeds, and that command line as its process title.
Its parent is the zygote, which reaps it and tells the server its exit status; it exits itself when the
zygote does (its parent poller), and the zygote exits when the server's end of the socket closes.

`ForkProvisioner` is jupyter_client's local provisioner with that one change to how the process starts (the
entry point `allies-fork`): signals, clean-up and the connection file are the local provisioner's own.
A kernel command that is not this Python's `-m ipykernel_launcher`, or a zygote that cannot start, gets an
ordinary process. Linux only (`os.pidfd_open`): `available()` says whether this machine has it.
"""
from __future__ import annotations

import asyncio
import gc
import json
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import weakref
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

PROVISIONER = "allies-fork"  # its entry point (pyproject.toml)
LAUNCHER = ["-m", "ipykernel_launcher"]
# What the zygote imports before it forks: what every module page's kernel would otherwise import itself.
PRELOAD = ["ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger", "ipywidgets", "IPython.display", "numpy", "PIL.Image",
           "matplotlib.figure", "matplotlib.backends.backend_agg", "course.store.answers"]
PRELOAD_PACKAGES = ["course.lesson", "course.lesson.figures", "course.lesson.models"]  # and all their modules
# Preloaded modules that hook into IPython as they are imported, if it runs (it does not, in the zygote):
# each kernel loads them as IPython extensions instead. ipywidgets registers its comm targets so.
EXTENSIONS = ["ipywidgets"]


def available() -> bool:
    """Whether kernels can be forked here: Linux's process file descriptors are needed, and the provisioner's
    entry point (registered by installing the course: `make install`)."""
    from importlib.metadata import entry_points

    return (hasattr(os, "pidfd_open") and hasattr(os, "fork")
            and bool(entry_points(group="jupyter_client.kernel_provisioners", name=PROVISIONER)))


# -- the zygote (its own process) ---------------------------------------------------------------------------
def zygote_main(fd: int) -> None:
    """The zygote: import what kernels need, then fork a kernel for each request read from socket `fd`, and
    report each one's pid and later its exit status; return once the server's end is closed."""
    import importlib
    import pkgutil

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the server's terminal is the server's to handle
    # ipykernel reads its parent's pid at import; its kernels' parent is this process (`ParentPollerUnix`).
    os.environ["JPY_PARENT_PID"] = str(os.getpid())
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # as ipykernel sets it
    for name in PRELOAD:
        importlib.import_module(name)
    for name in PRELOAD_PACKAGES:
        for module in pkgutil.iter_modules(importlib.import_module(name).__path__, name + "."):
            importlib.import_module(module.name)
    import setproctitle

    setproctitle.setproctitle(setproctitle.getproctitle())  # makes room for children's titles, before a fork
    gc.collect()
    gc.freeze()  # children's collections then never touch (and copy) the zygote's pages
    server = socket.socket(fileno=fd)
    sel = selectors.DefaultSelector()
    sel.register(server, selectors.EVENT_READ)

    def tell(message: dict) -> None:
        server.sendall(json.dumps(message).encode() + b"\n")

    tell({"ready": os.getpid()})
    buffer = b""
    while True:
        for key, _ in sel.select():
            if key.fileobj is server:
                try:
                    data = server.recv(1 << 16)
                except ConnectionResetError:  # the server exited with words of ours unread: as an end
                    return
                if not data:
                    return
                buffer += data
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    request = json.loads(line)
                    try:
                        pid = os.fork()
                    except OSError as exc:
                        tell({"id": request["id"], "error": str(exc)})
                        continue
                    if pid == 0:
                        sel.close()  # this child's copies only; closed before their numbers can be reused
                        server.close()
                        _become_kernel(request)  # never returns
                    sel.register(os.pidfd_open(pid), selectors.EVENT_READ, pid)
                    tell({"id": request["id"], "pid": pid})
            else:  # a kernel ended
                sel.unregister(key.fileobj)
                os.close(key.fileobj)
                _, status = os.waitpid(key.data, 0)
                tell({"ended": key.data, "status": os.waitstatus_to_exitcode(status)})


def _become_kernel(request: dict) -> None:
    """In a freshly forked child: become the kernel `request` asks for, as a new process would be."""
    try:
        os.setsid()  # as jupyter_client starts kernels: interrupts reach the kernel's whole group
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # and anything else the zygote held (its kernels' pidfds)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL if sig != signal.SIGPIPE else signal.SIG_IGN)
        argv = request["argv"]
        import setproctitle

        setproctitle.setproctitle(" ".join(argv))  # `ps` and the bench see the kernel's command line
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ["JPY_PARENT_PID"] = str(os.getppid())
        os.chdir(request["cwd"])
        import random

        random.seed()  # Python reseeds its own after a fork; said here so that it does not depend on that
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        import ipykernel_launcher

        sys.argv = [ipykernel_launcher.__file__, *argv[1 + len(LAUNCHER):]]
        from ipykernel.kernelapp import IPKernelApp

        IPKernelApp.launch_instance(extra_extensions=EXTENSIONS)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - report, and never return into the zygote's loop
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


# -- the server's side --------------------------------------------------------------------------------------
ENDED = -255  # `ForkedProcess.poll` of a kernel that has ended, its exit status not known yet


class ForkedProcess:
    """A forked kernel as jupyter_client's local provisioner uses a `Popen`: its pid, `poll`, `wait` (once it
    has ended) and signals, sent through a process file descriptor, so never to a reused pid."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:  # already ended and reaped: the zygote's word of it follows
            self._pidfd = None

    def poll(self) -> int | None:
        """Its exit status; or, once it has ended but before the zygote's word of it has been read, ENDED.
        That word reaches the server only while the server's event loop runs, and Voilà shuts its kernels
        down from another loop once its own has stopped: the process file descriptor says it at once."""
        if self.returncode is None and self._pidfd is not None:
            # poll, not select: a busy server's descriptors run past select's 1,024
            ready = select.poll()
            ready.register(self._pidfd, select.POLLIN)
            if ready.poll(0):
                return ENDED
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        return self.returncode

    def ended(self, status: int) -> None:
        self.returncode = status
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def send_signal(self, signum: int) -> None:
        """Signal the kernel, unless it has ended (as `Popen` does, even before its end has been reported)."""
        if self._pidfd is not None:
            try:
                signal.pidfd_send_signal(self._pidfd, signum)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class Zygote:
    """The server's handle on one zygote process: started on first use, asked for forks, told of endings.
    If it dies, its kernels are killed and reported ended, and the next fork starts a new one."""

    def __init__(self, python: str):
        self.python = python
        self.proc: subprocess.Popen | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.kernels: dict[int, ForkedProcess] = {}
        self.waiting: dict[int, asyncio.Future] = {}
        self.next_id = 0
        self.lock = asyncio.Lock()
        self.listener: asyncio.Task | None = None

    async def _start(self) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            self.proc = subprocess.Popen(
                [self.python, "-c", f"import course.web.forks as f; f.zygote_main({theirs.fileno()})"],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        reader, self.writer = await asyncio.open_unix_connection(sock=ours)
        line = await reader.readline()
        if not line:
            self.proc.wait()
            self.writer.close()
            self.writer = None
            raise RuntimeError(f"the kernel zygote exited with {self.proc.returncode} before it was ready")
        self.listener = asyncio.ensure_future(self._listen(reader))

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                self._heard(json.loads(line))
        finally:  # the zygote is gone (it crashed, or was killed), or the loop is ending: so are its kernels
            self.writer.close()
            self.writer = None
            for kernel in self.kernels.values():
                _kill(kernel)
                kernel.ended(-signal.SIGKILL)
            self.kernels.clear()
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(RuntimeError("the kernel zygote exited"))
            self.waiting.clear()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _heard(self, message: dict) -> None:
        if "ended" in message:
            if kernel := self.kernels.pop(message["ended"], None):
                kernel.ended(message["status"])
        elif future := self.waiting.pop(message["id"], None):
            kernel = None
            if "pid" in message:  # known before the zygote's word of its end can be read
                kernel = self.kernels[message["pid"]] = ForkedProcess(message["pid"])
            if not future.done():
                future.set_result((kernel, message.get("error")))
            elif kernel:  # its start was given up: nobody else would ever end it
                _kill(kernel)

    async def fork(self, argv: list[str], env: dict[str, str], cwd: str) -> ForkedProcess:
        """A kernel forked for command `argv` (`python -m ipykernel_launcher …`), with this environment and
        working folder."""
        async with self.lock:
            if self.writer is None:
                await self._start()
        self.next_id += 1
        future = self.waiting[self.next_id] = asyncio.get_running_loop().create_future()
        self.writer.write(json.dumps({"id": self.next_id, "argv": argv, "env": env, "cwd": cwd}).encode() + b"\n")
        kernel, error = await future
        if error:
            raise OSError(f"the kernel zygote could not fork: {error}")
        return kernel


def _kill(kernel: ForkedProcess) -> None:
    try:
        kernel.kill()
    except OSError:
        pass


# One zygote per Python and event loop (a server has one loop; its streams belong to that loop). A loop's
# zygotes go with it: their socket closes, and they exit.
_ZYGOTES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Zygote]] = weakref.WeakKeyDictionary()


class ForkProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, whose kernels are forked from a warm zygote (see the module's
    docstring) when their command is this kind of kernel; any other command starts as usual."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        if not (available() and cmd[1:3] == LAUNCHER):
            return await super().launch_kernel(cmd, **kwargs)
        zygotes = _ZYGOTES.setdefault(asyncio.get_running_loop(), {})
        zygote = zygotes.get(cmd[0]) or zygotes.setdefault(cmd[0], Zygote(cmd[0]))
        scrubbed = self._scrub_kwargs(kwargs)
        env = scrubbed.get("env") or dict(os.environ)
        cwd = str(scrubbed.get("cwd") or os.getcwd())
        try:
            self.process = await zygote.fork(cmd, env, cwd)
        except (OSError, RuntimeError) as exc:
            self.log.warning("Starting kernel %s as a new process: %s", self.kernel_id, exc)
            return await super().launch_kernel(cmd, **kwargs)
        self.pid = self.pgid = self.process.pid  # the child's own session (`os.setsid`)
        self.cwd = cwd
        return self.connection_info
