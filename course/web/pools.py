"""Voilà's preheated kernel pools, kept safe and cheap: a pool kernel is handed out only once it has rendered
its page, one that dies on the way is dropped and replaced, never handed out, and pools fill a few kernels
at a time, after learners' pages.

Learners' pages start their kernels a few per core at once (`PAGE_SLOTS_PER_CORE`): much of a start-up is
waiting on the kernel, not CPU. Pool refills start at most one per core, only while nobody is waiting in
line for a start-up slot, and none in the server's first `POOL_DELAY_SECONDS`: after a restart, the learners
coming back are served first. Nor does one start while a learner's page is starting a kernel of its own, or
a page just served from a pool has yet to connect to its kernel and then go quiet for `QUIET_SECONDS` (at
most `OPENING_SECONDS`): on a small server the browser and the kernels share the cores, and a kernel
starting then slowed the page's first paint, its widgets and its first slider moves. Such pages hold a
refill `REFILL_HOLD_SECONDS` at most, so that pages opened one after another (a learner reloading in a loop)
cannot hold every refill back. Voilà 0.5's pool is
reached through `course.upstream` (its manager's `_pools`, `_initialize`, `fill_if_needed` and
`get_rendered_notebook`); tests/test_cohort_recovery.py holds the pools to their job, tests/test_upstream.py
Voilà to what they assume.
"""
from __future__ import annotations

import asyncio
import os
import time
from typing import Callable

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Float, Integer

from course.web import connections
from course import upstream

HEARTBEAT_JOIN_SECONDS = 1.0
PAGE_SLOTS_PER_CORE = 4  # learners' kernels starting at once, a core (`--start-slots` overrides)
REFILL_CHECK_SECONDS = 1.0
POOL_DELAY_SECONDS = 10.0  # no pool kernel starts this soon after the server does
OPENING_SECONDS = 10.0  # a page served from a pool holds refills until it has connected and gone quiet, or this long
QUIET_SECONDS = 1.0  # ... quiet: nothing sent to its kernel for this long
REFILL_HOLD_SECONDS = 10.0  # learners' pages, starting or opening, hold one refill back this long at most


class Gate:
    """Kernels starting at once: at most `slots` learners' pages (default `PAGE_SLOTS_PER_CORE` a core), and
    pool refills, at most `refill_slots` (default one a core, never more than `slots`), only while nobody
    waits in line (`waiting`, set by the page handler), and none in the first `refill_delay` seconds (a
    restart: learners' pages come first), nor, for `REFILL_HOLD_SECONDS` at most, while a page is starting
    or a page served from a pool has yet to connect to its kernel and go quiet (`page_served`). Remembers
    how long a page's kernel takes to start, and wakes whoever waits for a change (a start done: a slot free,
    a pool kernel ready)."""

    def __init__(self, slots: int | None = None, refill_slots: int | None = None, refill_delay: float = 0):
        cores = os.cpu_count() or 1
        self.refills_from = time.monotonic() + refill_delay
        self.slots = slots or PAGE_SLOTS_PER_CORE * cores
        self.refill_slots = min(refill_slots or cores, self.slots)
        self.pages = 0
        self.refills = 0
        self.waiting: Callable[[], int] = lambda: 0
        self.start_seconds: float | None = None  # how long a page's kernel takes to start, once one has
        self.opening: dict[str, float] = {}  # pool kernels whose pages have not connected yet: until when
        self._changed: asyncio.Event | None = None

    def page_may_start(self) -> bool:
        return self.pages < self.slots

    def page_started(self) -> float:
        self.pages += 1
        return time.monotonic()

    def page_done(self, started: float, measured: bool = True) -> None:
        self.pages -= 1
        if measured:
            took = time.monotonic() - started
            self.start_seconds = took if self.start_seconds is None else 0.7 * self.start_seconds + 0.3 * took
        self.notify()

    def wait_seconds(self, place: int) -> int | None:
        """About how long the learner at `place` in line (1: next) waits for a start-up slot, from how long
        pages' kernels have just taken to start; None before one has."""
        if self.start_seconds is None:
            return None
        return max(1, round(-(-place // self.slots) * self.start_seconds))

    async def changed(self, timeout: float) -> None:
        """Return once a start is done (a slot may be free, a pool kernel ready), or after `timeout` s."""
        self._changed = self._changed or asyncio.Event()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    def page_served(self, kernel_id: str) -> None:
        """A pool kernel's page is on its way: refills wait until it has connected and then sent its kernel
        nothing for `QUIET_SECONDS` (`page_busy`), at most `OPENING_SECONDS` after now, so that a kernel
        starting does not take the cores the learner's browser lays the page out and first uses it with."""
        ends = time.monotonic() + OPENING_SECONDS
        self.opening[kernel_id] = (ends, ends)

    def page_busy(self, kernel_id: str) -> None:
        """The page of `kernel_id` has connected to it, or sent it a message."""
        if kernel_id in self.opening:
            ends, _ = self.opening[kernel_id]
            self.opening[kernel_id] = (ends, min(ends, time.monotonic() + QUIET_SECONDS))

    def kernel_ended(self, kernel_id: str) -> None:
        """`kernel_id` has ended: its page holds nothing any longer."""
        if self.opening.pop(kernel_id, None) is not None:
            self.notify()

    def refill_may_start(self, asked: float | None = None) -> bool:
        """Whether a refill may start now; one `asked` for then waits for pages starting kernels of their own
        (`pages`) and pages just served (`opening`) at most `REFILL_HOLD_SECONDS` in all, so that pages
        opened one after another cannot hold it back for good. Learners in line hold it while any waits."""
        now = time.monotonic()
        self.opening = {kernel: hold for kernel, hold in self.opening.items() if hold[1] > now}
        held = (self.pages or self.opening) and (asked is None or now < asked + REFILL_HOLD_SECONDS)
        return (not held and not self.waiting() and self.refills < self.refill_slots
                and now >= self.refills_from)

    async def refill(self, start):
        """Run `start()` (a pool kernel's start-up) once `refill_may_start` (as asked for now)."""
        asked = time.monotonic()
        while not self.refill_may_start(asked):
            holds = [until - time.monotonic() for _, until in self.opening.values()]
            await self.changed(min([REFILL_CHECK_SECONDS, *holds]))  # a learner giving up waiting notifies no one
        self.refills += 1
        try:
            return await start()
        finally:
            self.refills -= 1
            self.notify()

    def notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None


class BoundedClient(AsyncKernelClient):
    """The server's kernel client, whose heartbeat thread is joined for at most a second when it stops: a
    heartbeat stuck on a dead kernel's socket once held the event loop, and every request, for minutes."""

    def stop_channels(self) -> None:
        upstream.stop_heartbeat(self, HEARTBEAT_JOIN_SECONDS)
        super().stop_channels()


def _failed(task: asyncio.Future) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


def manage(manager, gate: Gate) -> None:
    """Make `manager`'s pools (a Voilà `VoilaKernelManager`) hand out only rendered kernels, replace the
    ones that die, and fill through `gate` (through `course.upstream`, which reaches Voilà's pool)."""

    def rendered_first(initialize):
        async def start_rendered(notebook_path, kernel_id=None, **kwargs):
            """A pool kernel, started and with its page rendered (an error if its kernel died on the way)."""
            async def start():
                content = await initialize(notebook_path, kernel_id, **kwargs)
                await asyncio.wait([content["task"]])
                if _failed(content["task"]):
                    kid = content["kernel_id"]
                    if kid in manager:
                        await manager.shutdown_kernel(kid, now=True)
                    raise RuntimeError(f"pool kernel {kid} for {notebook_path} died while starting")
                return content

            return await (gate.refill(start) if kernel_id is None else start())

        return start_rendered

    def ready(notebook: str) -> list:
        return [task for task in upstream.pool_tasks(manager, notebook) if task.done() and not _failed(task)]

    def replace_if_failed(notebook: str, task: asyncio.Future) -> None:
        pool = upstream.pool_tasks(manager, notebook)
        if _failed(task) and task in pool:
            pool.remove(task)
            manager.log.warning("Replacing a pool kernel for %s that failed to start", notebook)
            manager.fill_if_needed(delay=0, notebook_name=notebook)

    def watched(fill):
        def watched_fill(*args, notebook_name=None, **kwargs):
            fill(*args, notebook_name=notebook_name, **kwargs)
            for task in upstream.pool_tasks(manager, notebook_name):
                task.add_done_callback(lambda done, name=notebook_name: replace_if_failed(name, done))

        return watched_fill

    def ready_first(take):
        async def take_ready(notebook_name, **kwargs):
            upstream.pool_tasks(manager, notebook_name).sort(key=lambda task: task not in ready(notebook_name))
            taken = await take(notebook_name, **kwargs)
            gate.page_served(taken[2])  # (render task, rendered HTML, kernel id)
            return taken

        return take_ready

    upstream.wrap_pool_start(manager, rendered_first)
    upstream.wrap_pool_methods(manager, fill_if_needed=watched, get_rendered_notebook=ready_first,
                               get_pool_size=lambda _count: lambda notebook: len(ready(notebook)))


class PooledKernelManager(AsyncMappingKernelManager):
    """The sites' kernel manager: Voilà builds its pool on top of it (when preheating), and the pool is
    managed as above from the start, before Voilà fills it."""

    start_slots = Integer(0, config=True, help="Most learners' kernels starting at once (0: "
                          f"{PAGE_SLOTS_PER_CORE} per CPU core); pool refills, at most one per core.")

    pool_delay = Float(POOL_DELAY_SECONDS, config=True, help="Seconds after start-up before pools begin to "
                       "fill: after a restart, the learners who come back first start their own kernels.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.gate = Gate(self.start_slots or None, refill_delay=self.pool_delay)
        if hasattr(type(self), "get_rendered_notebook"):  # Voilà's pool class, built on this one
            manage(self, self.gate)

    async def shutdown_kernel(self, kernel_id, *args, **kwargs):
        connections.end(kernel_id)  # its pages hear it at once, whatever ended it
        self.gate.kernel_ended(kernel_id)
        return await super().shutdown_kernel(kernel_id, *args, **kwargs)
