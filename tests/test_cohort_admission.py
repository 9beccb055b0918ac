"""Admission to a module page's kernel: the line keeps each learner's place while they keep asking, lets
nobody who left hold it up, and the start-up gate lets pool refills wait for learners. No server here, and
no clock but a fake one: each rule is checked on its own."""
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from course.web import kernels, pools
from course.web.kernels import Line, Owner


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(kernels.time, "monotonic", fake)
    return fake


ANA, BEN, INES = (Owner(who, "/voila/render/01-why-men-why-now.ipynb") for who in ("ana", "ben", "ines"))


def test_first_come_first_served_while_each_keeps_asking(clock):
    line = Line(keep_seconds=6, present_seconds=3)
    assert line.first(ANA)  # nobody waiting
    assert line.place(ANA) == 1
    clock.now += 1
    assert line.place(BEN) == 2 and not line.first(BEN)
    clock.now += 2
    assert line.place(ANA) == 1 and line.place(BEN) == 2  # asking again keeps the place
    assert not line.first(INES)  # a newcomer goes behind those waiting


def test_a_learner_who_stopped_asking_holds_nobody_up_and_loses_the_place_later(clock):
    line = Line(keep_seconds=6, present_seconds=3)
    line.place(ANA)
    clock.now += 1
    line.place(BEN)
    clock.now += 3  # ana has not asked for 4 s: not there, but her place is kept
    line.place(BEN)
    assert line.first(BEN) and ANA in line and line.waiting() == 1
    assert line.place(ANA) == 1  # back in time: still ahead
    clock.now += 7
    line.place(BEN)
    assert ANA not in line and line.place(BEN) == 1


def test_a_held_request_keeps_the_place_and_one_closed_leaves_the_line(clock):
    line = Line(keep_seconds=6, present_seconds=3)
    line.hold(ANA)
    line.place(ANA)
    clock.now += 1
    line.place(BEN)
    clock.now += 60  # held all this time: still first
    line.place(BEN)
    assert ANA in line and not line.first(BEN)
    line.hold(ANA)  # she reloads: two requests of hers, and the first one closes
    line.release(ANA, gone=True)
    assert ANA in line
    line.release(ANA, gone=True)  # her last one closes: she has gone
    assert ANA not in line and line.first(BEN)


def test_a_released_request_that_was_answered_keeps_the_place(clock):
    line = Line(keep_seconds=6, present_seconds=3)
    line.hold(ANA)
    line.place(ANA)
    line.release(ANA)  # sent the waiting page: she asks again in a moment
    assert ANA in line and line.place(ANA) == 1


def test_pool_refills_wait_for_pages_and_for_learners_in_line():
    async def run():
        gate = pools.Gate(slots=4, refill_slots=1)
        waiting = [1]
        gate.waiting = lambda: waiting[0]
        started, release = asyncio.Event(), asyncio.Event()

        async def start():
            started.set()
            await release.wait()
            return "pool kernel"

        refill = asyncio.ensure_future(gate.refill(start))
        page = gate.page_started()
        waiting[0] = 0
        await asyncio.sleep(0)
        assert not started.is_set() and gate.refill_may_start() is False  # a page is starting
        gate.page_done(page)
        await started.wait()  # nobody starting or waiting: the refill goes ahead
        assert gate.refills == 1 and not gate.refill_may_start()  # one refill slot
        assert gate.page_may_start()  # pages never wait for refills
        release.set()
        assert await refill == "pool kernel" and gate.refills == 0

    with ThreadPoolExecutor(1) as thread:  # its own event loop: a browser test may hold this thread's
        thread.submit(asyncio.run, run()).result()


def test_a_page_served_from_a_pool_holds_refills_until_it_connects_and_goes_quiet_or_for_ten_seconds(monkeypatch):
    now = [500.0]
    monkeypatch.setattr(pools.time, "monotonic", lambda: now[0])
    gate = pools.Gate(slots=4)
    gate.page_served("k1")
    gate.page_served("k2")
    assert not gate.refill_may_start()  # two pages' browsers are laying them out
    now[0] += 1
    gate.page_busy("k1")  # connected
    now[0] += pools.QUIET_SECONDS - 0.1
    gate.page_busy("k1")  # a slider moved
    now[0] += pools.QUIET_SECONDS - 0.1
    assert not gate.refill_may_start() and "k1" in gate.opening
    now[0] += 0.1  # quiet for QUIET_SECONDS: k1 holds nothing any longer
    assert not gate.refill_may_start() and "k1" not in gate.opening
    now[0] = 500.0 + pools.OPENING_SECONDS  # k2's page never connected (a tab closed at once)
    assert gate.refill_may_start() and not gate.opening
    gate.page_served("k3")
    now[0] += pools.OPENING_SECONDS - 0.5
    gate.page_busy("k3")  # however busy, a page holds refills OPENING_SECONDS at most
    now[0] += 0.5
    assert gate.refill_may_start()
    gate.page_served("k4")
    gate.kernel_ended("k4")  # its kernel ended before the page connected
    assert gate.refill_may_start()
    gate.page_busy("k5")  # a kernel not served from a pool: nothing to hold
    assert gate.refill_may_start() and not gate.opening


def test_pages_served_one_after_another_hold_a_refill_for_ten_seconds_in_all(monkeypatch):
    """A learner (or a script) asking for a module page every few seconds, never connecting, cannot keep the
    pools from refilling: a refill waits for pages being laid out at most REFILL_HOLD_SECONDS in all."""
    now = [500.0]
    monkeypatch.setattr(pools.time, "monotonic", lambda: now[0])
    gate = pools.Gate(slots=4)
    asked = now[0]
    for page in range(4):
        gate.page_served(f"k{page}")
        assert not gate.refill_may_start(asked)
        now[0] += pools.REFILL_HOLD_SECONDS / 4 - 0.01
    now[0] += 0.04
    gate.page_served("k4")
    assert gate.refill_may_start(asked)  # waited its ten seconds
    assert not gate.refill_may_start()  # a refill asked for now still waits for k4's page


def test_pages_starting_kernels_one_after_another_hold_a_refill_for_ten_seconds_in_all_but_a_line_holds_it(
        monkeypatch):
    """Two learners reloading module pages in a loop, each starting a kernel of its own while the pools are
    empty, kept every pool from refilling for as long as they went on (an attacker's trial: no refill in
    40 s). A refill waits for such pages REFILL_HOLD_SECONDS in all; learners in line still hold it."""
    now = [500.0]
    monkeypatch.setattr(pools.time, "monotonic", lambda: now[0])
    gate = pools.Gate(slots=4)
    waiting = [0]
    gate.waiting = lambda: waiting[0]
    asked = now[0]
    starts = [gate.page_started()]
    for _ in range(4):  # the pages overlap: one always starting
        now[0] += pools.REFILL_HOLD_SECONDS / 4 - 0.01
        starts.append(gate.page_started())
        gate.page_done(starts.pop(0))
        assert gate.pages == 1 and not gate.refill_may_start(asked)
    now[0] += 0.04
    assert gate.refill_may_start(asked)  # waited its ten seconds
    assert not gate.refill_may_start()  # a refill asked for now still waits for the page starting
    waiting[0] = 1
    now[0] += 60
    assert not gate.refill_may_start(asked)  # a learner waits in line for a start-up slot: no refill


def test_a_refill_goes_ahead_while_pages_keep_starting_once_it_has_waited_its_hold(monkeypatch):
    """The gate's own loop, not only its rule: a refill asked for while a page is starting, and another
    always starting after it, starts once it has waited REFILL_HOLD_SECONDS (here 0.3 s)."""
    monkeypatch.setattr(pools, "REFILL_HOLD_SECONDS", 0.3)

    async def run():
        gate = pools.Gate(slots=4, refill_slots=1)
        page = gate.page_started()
        asked = time.monotonic()

        async def start():
            return time.monotonic()

        refill = asyncio.ensure_future(gate.refill(start))
        for _ in range(3):  # pages keep starting: every 0.1 s one ends and another starts
            await asyncio.sleep(0.1)
            page, done = gate.page_started(), page
            gate.page_done(done)
        started = await asyncio.wait_for(refill, 5)
        assert gate.pages == 1 and started >= asked + 0.3

    with ThreadPoolExecutor(1) as thread:  # its own event loop (see above)
        thread.submit(asyncio.run, run()).result()


def test_a_page_has_several_start_slots_a_core_and_refills_one_a_core(monkeypatch):
    monkeypatch.setattr(pools.os, "cpu_count", lambda: 2)
    gate = pools.Gate()
    assert gate.slots == 2 * pools.PAGE_SLOTS_PER_CORE and gate.refill_slots == 2
    assert pools.Gate(slots=1).refill_slots == 1


def test_no_pool_kernel_starts_in_the_first_seconds_after_start_up(monkeypatch):
    now = [500.0]
    monkeypatch.setattr(pools.time, "monotonic", lambda: now[0])
    gate = pools.Gate(slots=4, refill_delay=10)
    assert not gate.refill_may_start() and gate.page_may_start()  # learners coming back go first
    now[0] += 10
    assert gate.refill_may_start()


def test_a_wait_for_a_start_up_slot_is_estimated_only_from_start_ups_measured(monkeypatch):
    now = [500.0]
    monkeypatch.setattr(pools.time, "monotonic", lambda: now[0])
    gate = pools.Gate(slots=2)
    assert gate.wait_seconds(1) is None  # nothing measured yet: no number made up
    started = gate.page_started()
    now[0] += 4
    gate.page_done(started, measured=False)  # a page closed while starting: no measure
    assert gate.wait_seconds(1) is None
    started = gate.page_started()
    now[0] += 6
    gate.page_done(started)
    assert [gate.wait_seconds(place) for place in (1, 2, 3, 5)] == [6, 6, 12, 18]  # two start at once
