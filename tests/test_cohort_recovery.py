"""The cohort site recovers fast and stays bounded: a preheated kernel that dies while it starts never blocks
the server nor reaches a learner (it is replaced), and filling the pools at start-up never starves
learners' pages."""
import re
import signal
import time

import psutil
from conftest import get, signed_in, start_cohort

from course.grading import release

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


def timed(call):
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


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
        while "Replacing a pool kernel" not in server.log.read_text() or len(kernel_processes(server)) < len(MODULES) + 2:
            assert get(server.port, "/login")[0] == 200
            assert time.monotonic() < deadline, server.log.read_text()[-3000:]
            time.sleep(0.5)  # the poll's interval
    finally:
        server.stop()


def test_a_page_is_usable_soon_after_start_while_the_pools_are_still_filling(tmp_path):
    server, codes = start_cohort(tmp_path, "--pool-size", "3")  # 3 pool kernels a module to start on this machine
    try:
        ana = signed_in(server.port, "ana", codes["ana"])
        works, seconds = timed(lambda: working_page(server, ana, MODULES[3]))
        filled = server.log.read_text().count("Kernel pool of")
        assert works and seconds < 6, seconds  # measured here: 2.7-3.0 s; 11-13 s with every pool kernel starting at once
        assert filled < len(MODULES), "the pools had filled before the page was asked for: nothing measured"
    finally:
        server.stop()
