"""Voilà's preheated kernel pools, kept safe and cheap: a pool kernel is handed out only once it has rendered
its page, one that dies on the way is dropped and replaced, never handed out, and pools fill a few kernels
at a time, after learners' pages.

Kernel start-up CPU is what runs out on a small machine: at most one kernel starts per core, and a pool
refill waits while any learner's page is starting its own kernel. Voilà 0.5's pool is reached through
`course.upstream` (its manager's `_pools`, `_initialize`, `fill_if_needed` and `get_rendered_notebook`);
tests/test_cohort_recovery.py holds the pools to their job, tests/test_upstream.py Voilà to what they assume.
"""
from __future__ import annotations

import asyncio
import os
import time

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Integer

from . import connections, upstream

HEARTBEAT_JOIN_SECONDS = 1.0


class Gate:
    """Kernels starting at once: at most `slots` learners' pages, and pool refills only while no page is
    starting and fewer than `slots` kernels are. Remembers how long a page's kernel takes to start."""

    def __init__(self, slots: int | None = None):
        self.slots = slots or os.cpu_count() or 1
        self.pages = 0
        self.refills = 0
        self.start_seconds = 10.0  # until one is measured
        self._changed: asyncio.Event | None = None

    def page_may_start(self) -> bool:
        return self.pages < self.slots

    def page_started(self) -> float:
        self.pages += 1
        return time.monotonic()

    def page_done(self, started: float, measured: bool = True) -> None:
        self.pages -= 1
        if measured:
            self.start_seconds = 0.7 * self.start_seconds + 0.3 * (time.monotonic() - started)
        self._notify()

    def wait_seconds(self, place: int) -> int:
        """About how long the learner at `place` in line (1: next) waits for a kernel."""
        return max(1, round(-(-place // self.slots) * self.start_seconds))

    async def refill(self, start):
        """Run `start()` (a pool kernel's start-up) once no page is starting and a slot is free."""
        while self.pages or self.pages + self.refills >= self.slots:
            self._changed = self._changed or asyncio.Event()
            await self._changed.wait()
        self.refills += 1
        try:
            return await start()
        finally:
            self.refills -= 1
            self._notify()

    def _notify(self) -> None:
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
            return await take(notebook_name, **kwargs)

        return take_ready

    upstream.wrap_pool_start(manager, rendered_first)
    upstream.wrap_pool_methods(manager, fill_if_needed=watched, get_rendered_notebook=ready_first,
                               get_pool_size=lambda _count: lambda notebook: len(ready(notebook)))


class PooledKernelManager(AsyncMappingKernelManager):
    """The sites' kernel manager: Voilà builds its pool on top of it (when preheating), and the pool is
    managed as above from the start, before Voilà fills it."""

    start_slots = Integer(0, config=True, help="Most kernels starting at once (0: one per CPU core).")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.gate = Gate(self.start_slots or None)
        if hasattr(type(self), "get_rendered_notebook"):  # Voilà's pool class, built on this one
            manage(self, self.gate)

    async def shutdown_kernel(self, kernel_id, *args, **kwargs):
        connections.end(kernel_id)  # its pages hear it at once, whatever ended it
        return await super().shutdown_kernel(kernel_id, *args, **kwargs)
