"""The cohort site recovers fast and stays bounded: a preheated kernel that dies while it starts never blocks
the server nor reaches a learner (it is replaced), and filling the pools at start-up never starves
learners' pages, nor the browser laying out a page just served from a pool."""
import json
import os
import re
import signal
import time
import uuid

import psutil
from conftest import get, request, signed_in, start_cohort
from websockets.sync.client import connect

from course.grading import release
from course.web import pools

MODULES = release.module_names()


def kernel_processes(server) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(server.proc.pid).children(recursive=True):
        try:
            if "ipykernel" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def working_page(server, headers, module: str) -> bool:
    """The module page arrived whole, with the kernel it talks to."""
    status, body = get(server.port, f"/voila/render/{module}.ipynb", headers)
    return status == 200 and re.search(r'"kernelId": "[0-9a-f-]{36}"', body) is not None and "</html>" in body


def test_a_pool_kernel_killed_while_starting_is_replaced_and_blocks_nothing(tmp_path):
    server, codes = start_cohort(tmp_path, "--pool-size", "1")
    try:
        killed: set[str] = set()  # kernels by connection file: a restarted kernel keeps it, and is spared
        deadline = time.monotonic() + 60
        while len(killed) < len(MODULES):  # every module's first pool kernel, as soon as it exists
            assert time.monotonic() < deadline, f"only {len(killed)} pool kernels started"
            for kernel in kernel_processes(server):
                try:
                    connection = kernel.cmdline()[-1]
                except psutil.NoSuchProcess:
                    continue
                if connection not in killed:
                    kernel.send_signal(signal.SIGKILL)
                    killed.add(connection)
            time.sleep(0.02)
        # While it replaces them the server keeps serving: the sign-in page, and module pages whole with
        # their kernel (each request waits for its answer, however loaded the machine; no time limit here).
        ana = signed_in(server.port, "ana", codes["ana"])
        for module in (MODULES[1], MODULES[6]):
            assert working_page(server, ana, module), module
        deadline = time.monotonic() + 120  # until the log says so and each module has a live pool kernel again
        while ("Replacing a pool kernel" not in server.log.read_text()
               or len(kernel_processes(server)) < len(MODULES) + 2):
            assert get(server.port, "/login")[0] == 200
            assert time.monotonic() < deadline, server.log.read_text()[-3000:]
            time.sleep(0.5)  # the poll's interval
    finally:
        server.stop()


def test_a_page_started_while_the_pools_fill_goes_ahead_of_them(tmp_path):
    """Filling the pools at start-up never starves a learner's page: its kernel starts ahead of every pool
    kernel not already starting (at most one refill a core runs beside pages), however slow the machine."""
    server, codes = start_cohort(tmp_path, "--pool-size", "3")  # 3 pool kernels a module to start on this machine
    try:
        ana = signed_in(server.port, "ana", codes["ana"])
        status, body = get(server.port, f"/voila/render/{MODULES[3]}.ipynb", ana)
        assert status == 200 and "</html>" in body
        kernel_id = re.search(r'"kernelId": "([0-9a-f-]{36})"', body).group(1)
        started = {}
        for kernel in kernel_processes(server):
            try:
                started[" ".join(kernel.cmdline())] = kernel.create_time()
            except psutil.NoSuchProcess:
                pass
        page = [when for cmdline, when in started.items() if kernel_id in cmdline]
        assert page, "the page's kernel is not among the server's kernels"
        ahead = [when for when in started.values() if when < page[0]]
        assert len(ahead) <= (os.cpu_count() or 1), f"{len(ahead)} pool kernels started before the page's"
        assert len(started) < 3 * len(MODULES), "the pools had filled before the page was asked for: nothing measured"
    finally:
        server.stop()


def test_a_pool_refill_waits_until_the_page_served_from_the_pool_has_connected_and_gone_quiet(tmp_path):
    """A refill started the moment a pool kernel was handed out took the cores the learner's browser was
    laying the page out with (its first chart 1.3-1.8x later in an A/B): it waits until the page's script has
    connected to its kernel and then sent it nothing for a second, and then goes ahead."""
    server, codes = start_cohort(tmp_path, "--pool-size", "1")
    try:
        ana = signed_in(server.port, "ana", codes["ana"])
        page = f"/voila/render/{MODULES[2]}.ipynb"
        deadline = time.monotonic() + 120
        while True:  # until the page comes from the module's pool (until its kernel is ready, a page starts its own)
            status, body = get(server.port, page, ana)
            assert status == 200, body[:500]
            kernel_id = re.search(r'"kernelId": "([0-9a-f-]{36})"', body).group(1)
            if f"Using pre-heated kernel: {kernel_id}" in server.log.read_text():
                break
            assert request(server.port, f"/voila/api/shutdown/{kernel_id}", "POST", headers=ana)[0] == 204
            assert time.monotonic() < deadline, "no pool kernel was ready in 120 s"
            time.sleep(0.5)
        served = time.monotonic()
        before = {kernel.pid for kernel in kernel_processes(server)}

        def no_refill_for(seconds, then=lambda: None):
            """No new kernel process (a refill's is one within a second or two when nothing holds it)."""
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                started = {kernel.pid for kernel in kernel_processes(server)} - before
                assert not started, "a pool refill started while the page served from the pool was in use"
                then()
                time.sleep(0.1)

        no_refill_for(2)  # its socket not yet open (the hold lasts pools.OPENING_SECONDS at most)
        with connect(f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels", additional_headers=ana,
                     open_timeout=10) as socket:
            def ask():
                socket.send(json.dumps({"channel": "shell", "header": {
                    "msg_id": uuid.uuid4().hex, "msg_type": "kernel_info_request", "session": "test",
                    "username": "ana", "date": "", "version": "5.3"},
                    "parent_header": {}, "metadata": {}, "content": {}}))

            no_refill_for(2, then=ask)  # connected, and talking to its kernel
            while not {kernel.pid for kernel in kernel_processes(server)} - before:  # quiet: the refill goes ahead
                assert time.monotonic() < served + pools.OPENING_SECONDS, "no refill once the page went quiet"
                time.sleep(0.05)
    finally:
        server.stop()
