"""Kernels forked from the warm zygote (course/web/forks.py) are kernels as a new process would be: each is a
process of its own, in its own session, with the environment, folder and arguments it was started with,
fresh random seeds, nothing of the zygote's open, ipywidgets' comm targets registered, and it is
interrupted, killed and reported ended as any kernel; the zygote and its kernels end with the server, and
a dead zygote is replaced. Real kernels, started through jupyter_client's kernel manager."""
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import nbformat
import psutil
import pytest
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.factory import KernelProvisionerFactory
from traitlets.config import Config

from conftest import ROOT
from test_chart_cache import COUNT_DRAWS
from course.web import chart_cache, cohort, forks, kernels

pytestmark = pytest.mark.skipif(not forks.available(), reason="kernels are forked on Linux only")

PROBE = """
import json, os, random, sys, numpy
from comm import get_comm_manager

def links():
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own
            pass
    return found

print(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "sid": os.getsid(0), "cwd": os.getcwd(),
                  "argv": sys.argv[1:], "probe": os.environ.get("ALLIES_FORK_PROBE"),
                  "random": random.random(), "numpy": numpy.random.random(),
                  "targets": sorted(get_comm_manager().targets),
                  "fds": links()}))
"""


def forking(provisioner: str = forks.PROVISIONER) -> Config:
    """Kernels of this process started through `provisioner`, as the cohort site configures it."""
    config = Config()
    config.KernelProvisionerFactory.default_provisioner_name = provisioner
    KernelProvisionerFactory.clear_instance()
    KernelProvisionerFactory.instance(config=config)
    return config


@pytest.fixture(autouse=True)
def provisioners():
    yield
    KernelProvisionerFactory.clear_instance()


async def started(config: Config, **kwargs) -> tuple[AsyncKernelManager, object]:
    """A kernel and a client that it has answered (IPC sockets named by absolute path: a kernel's working
    folder may not be this process's)."""
    runtime = tempfile.mkdtemp(prefix="allies-forks-")
    manager = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(runtime, "kernel"),
                                 config=config)
    await manager.start_kernel(**kwargs)
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=120)
    return manager, client


async def run(client, code: str, timeout: float = 60) -> tuple[str, dict]:
    """What `code` printed, and its execute reply's content."""
    printed = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])

    reply = await client.execute_interactive(code, timeout=timeout, output_hook=hook)
    assert reply["content"]["status"] == "ok" or reply["content"].get("ename") == "KeyboardInterrupt", reply
    return "".join(printed), reply["content"]


async def stop(manager, client) -> None:
    client.stop_channels()
    await manager.shutdown_kernel(now=True)


def run_apart(coroutine):
    """Run `coroutine` on its own event loop in its own thread: a browser test may hold this thread's."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def zygote_of(pid: int) -> psutil.Process:
    parent = psutil.Process(pid).parent()
    assert "zygote_main" in " ".join(parent.cmdline()), parent.cmdline()
    return parent


def test_a_forked_kernel_is_a_fresh_kernel_of_its_own(tmp_path):
    async def main():
        config = forking()
        first = await started(config)
        os.environ["ALLIES_FORK_PROBE"] = "set after the zygote started"  # each kernel gets its own env
        try:
            second = await started(config, cwd=str(tmp_path))
        finally:
            del os.environ["ALLIES_FORK_PROBE"]
        try:
            probes = [json.loads((await run(client, PROBE))[0]) for _, client in (first, second)]
            zygote = zygote_of(probes[0]["pid"])
            return probes, zygote, [manager.connection_file for manager, _ in (first, second)]
        finally:
            for kernel in (first, second):
                await stop(*kernel)

    (one, two), zygote, connection_files = run_apart(main())
    assert one["pid"] != two["pid"] and one["ppid"] == two["ppid"] == zygote.pid
    for probe, connection_file in zip((one, two), connection_files):
        assert probe["sid"] == probe["pid"]  # a session of its own, as jupyter_client starts kernels
        assert probe["argv"] == ["-f", connection_file]
        assert "jupyter.widget.control" in probe["targets"]  # ipywidgets' comm targets, as in a new process
        assert not [link for link in probe["fds"].values() if "pidfd" in link], probe["fds"]  # the zygote's
    assert one["probe"] is None and two["probe"] == "set after the zygote started"
    assert two["cwd"] == str(tmp_path)
    assert one["random"] != two["random"] and one["numpy"] != two["numpy"]


def test_a_forked_kernel_holds_nothing_the_zygote_had_open():
    async def main():
        manager, client = await started(forking())
        try:
            probe = json.loads((await run(client, PROBE))[0])
            zygote = zygote_of(probe["pid"])
            held = {os.readlink(f"/proc/{zygote.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{zygote.pid}/fd")}
            return probe, held
        finally:
            await stop(manager, client)

    probe, held = run_apart(main())
    sockets = {link for link in held if link.startswith("socket:")}
    assert sockets, held  # the zygote's end of its socket pair with this process
    assert not sockets & set(probe["fds"].values())
    assert probe["fds"]["0"] == "/dev/null"


def test_work_handed_to_the_kernels_main_thread_waits_for_a_running_cell_and_runs_there():
    """A preheated kernel restores a learner's answers from a background thread once a request claims it;
    the widgets that builds must be built on the kernel's main thread, between its messages (the page's
    request for every widget's state among them), never while one is being handled."""
    async def main():
        manager, client = await started(forking())
        try:
            during, _ = await run(client, textwrap.dedent("""
                import threading
                from course import upstream
                seen = []
                def note():
                    seen.append(threading.current_thread() is threading.main_thread())
                helper = threading.Thread(target=upstream.on_kernel_thread, args=(note,))
                helper.start(); helper.join()
                print(seen)
                """))
            after, _ = await run(client, "print(seen)")
            return during, after
        finally:
            await stop(manager, client)

    during, after = run_apart(main())
    assert during.strip() == "[]"  # not run on the helper thread, nor while the cell ran
    assert after.strip() == "[True]"  # run once, on the main thread, before the next message


def test_a_forked_kernel_is_interrupted_killed_and_reported_ended_as_any_kernel():
    async def main():
        manager, client = await started(forking())
        try:
            running = asyncio.ensure_future(run(client, "import time\ntime.sleep(120)", timeout=120))
            await asyncio.sleep(1)
            await manager.interrupt_kernel()
            _, reply = await asyncio.wait_for(running, 60)
            manager.provisioner.process.kill()
            deadline = time.monotonic() + 30
            process = manager.provisioner.process
            while await manager.is_alive() or process.returncode is None:  # the zygote's word of it follows
                assert time.monotonic() < deadline, "the killed kernel still counts as alive"
                await asyncio.sleep(0.1)
            return reply, process.returncode
        finally:
            await stop(manager, client)

    reply, code = run_apart(main())
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
    assert code == -signal.SIGKILL


def test_a_kernels_end_is_seen_while_the_servers_loop_is_not_running():
    """Voilà shuts its kernels down from a new event loop once its own has stopped (`Voila.stop`, run_sync),
    where the zygote's word of a kernel's end is never read: the kernel must still be seen to end, or each
    shutdown waits out jupyter_client's 5 s and the server's exit with it."""
    def main():  # in a thread of its own: a browser test may be running a loop in this one
        loop = asyncio.new_event_loop()
        manager, client = loop.run_until_complete(started(forking()))
        try:
            process = manager.provisioner.process
            client.stop_channels()
            process.kill()  # the loop that would hear the zygote is not running from here on
            deadline = time.monotonic() + 10
            while process.poll() is None:
                assert time.monotonic() < deadline, "the ended kernel is still taken for running"
                time.sleep(0.05)
            assert process.poll() == forks.ENDED and process.returncode is None  # the zygote's to say
            assert asyncio.run(manager.is_alive()) is False  # as jupyter_client asks, from another loop
        finally:
            loop.run_until_complete(manager.shutdown_kernel(now=True))
            loop.close()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(main).result()


def test_a_kernels_end_is_seen_with_more_than_1024_descriptors_open():
    """A server with a hundred learners' kernels holds over 1,024 descriptors: a kernel's process descriptor
    numbered past them is still polled (select() refused it, and the page's websocket got a 500)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        process = forks.ForkedProcess(child.pid)
        assert process.poll() is None
        child.kill()
        deadline = time.monotonic() + 10
        while process.poll() is None:
            assert time.monotonic() < deadline, "the ended process is still taken for running"
            time.sleep(0.05)
        assert process.poll() == forks.ENDED
        process.ended(-signal.SIGKILL)
    finally:
        for fd in held:
            os.close(fd)
        child.kill()
        child.wait()


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_dead_zygotes_kernels_end_and_the_next_kernel_gets_a_new_zygote():
    async def main():
        config = forking()
        manager, client = await started(config)
        try:
            pid = manager.provisioner.process.pid
            zygote = zygote_of(pid)
            zygote.kill()
            deadline = time.monotonic() + 30
            while await manager.is_alive():
                assert time.monotonic() < deadline, "the dead zygote's kernel still counts as alive"
                await asyncio.sleep(0.1)
            # Reported ended once it has been sent SIGKILL: on a busy machine it may take a moment to die.
            while running(pid):
                assert time.monotonic() < deadline, "the dead zygote's kernel is still running"
                await asyncio.sleep(0.1)
        finally:
            await stop(manager, client)
        manager, client = await started(config)
        try:
            out, _ = await run(client, "print(1 + 1)")
            return zygote.pid, zygote_of(manager.provisioner.process.pid).pid, out
        finally:
            await stop(manager, client)

    old, new, out = run_apart(main())
    assert old != new and out == "2\n"


SERVER = """
import asyncio, sys, tempfile, time
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.factory import KernelProvisionerFactory
from traitlets.config import Config

async def main():
    config = Config()
    config.KernelProvisionerFactory.default_provisioner_name = "allies-fork"
    KernelProvisionerFactory.instance(config=config)
    manager = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=tempfile.mkdtemp() + "/kernel",
                                 config=config)
    await manager.start_kernel()
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=120)
    print(manager.provisioner.process.pid, flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def test_the_zygote_and_its_kernels_end_when_the_server_is_killed():
    server = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SERVER)], stdout=subprocess.PIPE, text=True)
    try:
        kernel = psutil.Process(int(server.stdout.readline()))
        zygote = zygote_of(kernel.pid)
        assert zygote.ppid() == server.pid
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    gone, alive = psutil.wait_procs([zygote, kernel], timeout=30)
    assert not alive, [p.cmdline() for p in alive]


def test_the_cohort_site_forks_its_kernels_unless_told_not_to(tmp_path):
    from course.instance import Instance

    instance = Instance(str(tmp_path / "instance"))
    assert cohort.config(instance, 8866, 1).KernelProvisionerFactory.default_provisioner_name == forks.PROVISIONER
    assert "default_provisioner_name" not in cohort.config(instance, 8866, 1, fork_kernels=False).KernelProvisionerFactory


def private_mb(pid: int) -> float:
    """Memory only this process holds (its copy-on-write pages included, once written)."""
    info = psutil.Process(pid).memory_full_info()
    return info.uss / 2**20


@pytest.mark.parametrize("cache, module, charge", [
    ("empty", "04-backlash-and-zero-sum", kernels.FORKED_KERNEL_MB),
    ("complete", "04-backlash-and-zero-sum", kernels.FORKED_CACHED_KERNEL_MB),
    ("complete", "05-behind-the-veil", kernels.FORKED_CACHED_KERNEL_MB),
])
def test_a_forked_kernel_stays_within_the_memory_the_sites_ceiling_gives_it_with_every_view_shown(
        tmp_path, monkeypatch, cache, module, charge):
    """The cohort site's ceiling counts what a forked kernel holds alone: `kernels.FORKED_KERNEL_MB` when it
    may have to draw charts (Module 4 is the heaviest page to explore: every view of its explorers drawn,
    from an empty chart cache), `kernels.FORKED_CACHED_KERNEL_MB` when the cache holds every view, so it
    draws none (Modules 4 and 5 held the most)."""
    monkeypatch.setenv("ALLIES_CACHE_DIR", str(tmp_path))
    if cache == "complete":
        subprocess.run([sys.executable, "-m", "course", "charts", f"{module}.ipynb"], cwd=ROOT, check=True,
                       capture_output=True, timeout=900)
    notebook = nbformat.read(ROOT / "modules" / f"{module}.ipynb", as_version=4)

    async def main():
        manager, client = await started(forking(), cwd=str(ROOT / "modules"))
        try:
            await run(client, COUNT_DRAWS)
            for cell in notebook.cells:
                if cell.cell_type == "code":
                    await run(client, cell.source, timeout=120)
            with_page = private_mb(manager.provisioner.process.pid)
            views, _ = await run(client, chart_cache.EVERY_VIEW, timeout=600)
            drawn, _ = await run(client, "print(drawn[0])")
            return with_page, int(views), int(drawn), private_mb(manager.provisioner.process.pid)
        finally:
            await stop(manager, client)

    with_page, views, drawn, explored = run_apart(main())
    assert views > 20, views  # the explorers were found, and showed every view
    assert (drawn > 0) == (cache == "empty"), drawn
    assert with_page <= explored < charge, (with_page, explored)
