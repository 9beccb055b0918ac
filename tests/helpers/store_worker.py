"""Child processes for tests/test_store.py, and a benchmark of course.store.answers.

    store_worker.py crash DB LEARNER [N] save in a tight loop (N saves, or until killed); first print the
                                         saving connection's durability settings (SQLite's
                                         "synchronous=… journal_mode=…", PostgreSQL's
                                         "synchronous_commit=… fsync=…"), then "item revision sha256"
                                         per returned save (DB: a SQLite file or a postgresql:// URL)
    store_worker.py hammer DB INDEX N    add learner w<INDEX> (and "shared"), print "ready", wait for a line
                                         on stdin, then N saves alternating own and shared items; print JSON
    store_worker.py bench [DIR]          print saves/s (one thread) and save latency under 8 writer processes,
                                         for a connection per thread and a connection per call
"""
from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from course.store.answers import AnswerStore, LearnerExists, is_url  # noqa: E402

MODULE = "m01"
HOSTILE = "\x00\ud800\u202e<img src=x onerror=alert(1)>\U0001F600"


class PerCallStore(AnswerStore):
    """Opens a new connection for every call (it is closed when the call drops it), for comparison."""

    def _conn(self):
        return self._backend.connect()


def crash(db: str, learner: str, count: int | None = None) -> None:
    store = AnswerStore(db)
    try:
        store.add_learner(learner, "Crash test")
    except LearnerExists:
        pass
    sys.stdout.write(durability(store) + "\n")
    sys.stdout.flush()
    n = 0
    while count is None or n < count:
        item = f"item{n % 7}"
        value = f"{n}:{HOSTILE}" + "x" * (n % 13 * 997)
        saved = store.save(learner, MODULE, item, value)
        sys.stdout.write(f"{item} {saved.revision} {hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()}\n")
        sys.stdout.flush()
        n += 1


def durability(store: AnswerStore) -> str:
    """The settings that make a returned save durable, as the connection this thread saves with has them."""
    conn = store._conn()
    if is_url(store.location):
        names = ("synchronous_commit", "fsync")
        return " ".join(f"{name}={conn.execute(f'SHOW {name}').fetchone()[0]}" for name in names)
    (sync,), (journal,) = conn.execute("PRAGMA synchronous").fetchone(), conn.execute("PRAGMA journal_mode").fetchone()
    return f"synchronous={sync} journal_mode={journal}"


def hammer(db: str, index: int, count: int, per_call: bool = False) -> None:
    store = (PerCallStore if per_call else AnswerStore)(db)
    me = f"w{index}"
    for learner in (me, "shared"):
        try:
            store.add_learner(learner, learner)
        except LearnerExists:
            pass
    print("ready", flush=True)
    sys.stdin.readline()
    acks, latencies = [], []
    for i in range(count):
        learner, item = (me, "own") if i % 2 == 0 else ("shared", "common")
        value = f"{me}:{i}"
        start = time.perf_counter()
        saved = store.save(learner, MODULE, item, value)
        latencies.append(time.perf_counter() - start)
        acks.append([learner, item, saved.revision, value])
    print(json.dumps({"acks": acks, "latencies": latencies}), flush=True)


def run_hammers(db: str, workers: int, count: int, per_call: bool = False) -> list[dict]:
    """Start `workers` hammer processes, release them together, return their reports."""
    cmd = [sys.executable, __file__, "hammer", db]
    procs = [subprocess.Popen(cmd + [str(i), str(count)] + (["per-call"] if per_call else []),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(workers)]
    for p in procs:
        line = p.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"worker failed to start: {line!r} {p.stderr.read()}")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        if p.returncode != 0:
            raise RuntimeError(f"worker exited {p.returncode}: {err}")
        reports.append(json.loads(out))
    return reports


def bench(directory: str) -> None:
    for label, cls, per_call in (("connection per thread", AnswerStore, False),
                                 ("connection per call", PerCallStore, True)):
        db = os.path.join(directory, f"bench-{per_call}.db")
        store = cls(db)
        store.add_learner("solo", "Solo")
        n = 2000
        start = time.perf_counter()
        for i in range(n):
            store.save("solo", MODULE, f"q{i % 10}", f"answer {i} " + "x" * 200)
        rate = n / (time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(n):
            store.load("solo", MODULE)
        load_rate = n / (time.perf_counter() - start)
        reports = run_hammers(db, 8, 250, per_call)
        lat = sorted(x for r in reports for x in r["latencies"])
        p50, p99 = statistics.median(lat), lat[int(len(lat) * 0.99)]
        print(f"{label}: {rate:,.0f} saves/s single thread; {load_rate:,.0f} loads/s; "
              f"8 writer processes x 250 saves: p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, "
              f"max {lat[-1] * 1000:.1f} ms")


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "crash":
        crash(args[0], args[1], int(args[2]) if args[2:] else None)
    elif mode == "hammer":
        hammer(args[0], int(args[1]), int(args[2]), per_call=args[3:] == ["per-call"])
    elif mode == "bench":
        with tempfile.TemporaryDirectory(dir=args[0] if args else None) as tmp:
            bench(tmp)
    else:
        sys.exit(__doc__)
