"""Limits on guessing access codes: failed sign-ins counted per learner id and per client address, and the
code check (scrypt, about 50 ms of CPU) run on a small thread pool, never on the server's event loop."""
from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor

_CHECKS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sign-in")


async def off_the_loop(check, *args):
    """Run a slow `check(*args)` on the sign-in threads, so that other learners' requests go on meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(_CHECKS, check, *args)


class Failures:
    """Failed attempts per key within the last `window` seconds; past `limit` of them a key must wait."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self._times: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        times, since = self._times[key], time.monotonic() - self.window
        while times and times[0] <= since:
            times.popleft()
        if not times:
            del self._times[key]  # keep memory to keys that failed lately
            return deque()
        return times

    def wait(self, key: str) -> float:
        """Seconds until `key` may try again (0: now)."""
        times = self._recent(key)
        return times[-self.limit] + self.window - time.monotonic() if len(times) >= self.limit else 0.0

    def add(self, key: str) -> None:
        self._recent(key)
        self._times[key].append(time.monotonic())

    def clear(self, key: str) -> None:
        self._times.pop(key, None)


class SignInLimits:
    """Failed sign-ins allowed per learner id and per client address within a window."""

    def __init__(self, per_learner: int = 5, per_address: int = 20, window: float = 600):
        self.learners, self.addresses = Failures(per_learner, window), Failures(per_address, window)

    def wait(self, learner: str, address: str) -> float:
        return max(self.learners.wait(learner), self.addresses.wait(address))

    def failed(self, learner: str, address: str) -> None:
        self.learners.add(learner)
        self.addresses.add(address)

    def succeeded(self, learner: str) -> None:
        self.learners.clear(learner)


def in_words(seconds: float) -> str:
    """'1 minute', '7 minutes': how long to wait, rounded up to whole minutes."""
    minutes = max(1, -(-int(seconds) // 60))
    return f"{minutes} minute{'s' if minutes > 1 else ''}"
