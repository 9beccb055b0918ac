"""The answer store on its two back ends, on this machine, in one run: save latency on SQLite (a file, synced
at each commit) against PostgreSQL (Debian's server in a throwaway cluster on a unix socket, syncing its log
at each commit), one writer and eight writer processes at once; and what opening the store adds to a
learner's kernel (modules loaded, peak memory).

    python bench/store.py                 2,000 saves per back end, alternating rounds; writes bench/STORE.md
    python bench/store.py --saves 200     a smoke run

Rounds alternate between the back ends, so that other work on the machine weighs on both alike.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "helpers")]

import postgres  # noqa: E402  (tests/helpers/postgres.py: the throwaway cluster)
import store_worker  # noqa: E402  (tests/helpers/store_worker.py: the concurrent writers)

from bench.machine import Background, describe  # noqa: E402
from course.store.answers import AnswerStore  # noqa: E402

OUT = ROOT / "bench" / "STORE.md"
ROUNDS = 10

# A learner's kernel as far as the store goes: the session module, then (unless "none") one answer saved.
KERNEL = r"""
import json, os, re, sys
from course.lesson import session
current = session.current()
if current.store_path:
    current._store().save(current.learner, "m01", "m01-r1", "My reflection.")
with open("/proc/self/status") as fh:  # VmHWM: this process's peak RSS (getrusage's survives exec)
    peak = int(re.search(r"VmHWM:\s+(\d+) kB", fh.read()).group(1))
with open("/proc/self/smaps_rollup") as fh:  # its own pages now, not shared libraries' (USS)
    own = sum(int(n) for n in re.findall(r"Private_(?:Clean|Dirty):\s+(\d+) kB", fh.read()))
print(json.dumps({"modules": len(sys.modules), "max_rss_mb": peak / 1024, "uss_mb": own / 1024,
                  "psycopg": "psycopg" in sys.modules, "sqlalchemy": "sqlalchemy" in sys.modules}))
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def summary(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "median": statistics.median(ms), "p99": percentile(ms, 0.99), "mean": statistics.fmean(ms)}


def one_writer(locations: dict[str, str], saves: int) -> dict[str, dict]:
    stores = {name: AnswerStore(location) for name, location in locations.items()}
    times: dict[str, list[float]] = {name: [] for name in stores}
    for store in stores.values():
        store.add_learner("solo", "Solo")
    for round_ in range(ROUNDS):
        for name, store in stores.items():
            for i in range(saves // ROUNDS):
                value = f"answer {round_}.{i} " + "x" * 200
                start = time.perf_counter()
                store.save("solo", store_worker.MODULE, f"q{i % 10}", value)
                times[name].append(time.perf_counter() - start)
    for store in stores.values():
        store.close()
    return {name: summary(values) for name, values in times.items()}


def many_writers(locations: dict[str, str], saves: int) -> dict[str, dict]:
    found = {}
    for name, location in locations.items():
        reports = store_worker.run_hammers(location, workers=8, count=saves // 8)
        found[name] = summary([x for report in reports for x in report["latencies"]])
    return found


def kernel(location: str | None, work: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "VOILA_PREHEAT"}
    env.update({"HTTP_X_ALLIES_LEARNER": "solo", "ALLIES_CACHE_DIR": str(work / "cache")})
    if location:
        env["ALLIES_STORE"] = location
    else:
        env.pop("ALLIES_STORE", None)
    runs = [json.loads(subprocess.run([sys.executable, "-c", KERNEL], env=env, cwd=ROOT, check=True,
                                      capture_output=True, text=True).stdout) for _ in range(3)]
    return {**runs[0], **{key: statistics.median(r[key] for r in runs) for key in ("max_rss_mb", "uss_mb")}}


def markdown(report: dict) -> str:
    m, one, many, k = report["machine"], report["one"], report["many"], report["kernel"]
    ratio = one["postgresql"]["median"] / one["sqlite"]["median"]
    many_ratio = many["postgresql"]["median"] / many["sqlite"]["median"]
    slowest = max(r[name]["p99"] for r in (one, many) for name in ("sqlite", "postgresql"))
    rows = "\n".join(f"| {label} | {r['sqlite']['median']:.2f} | {r['sqlite']['p99']:.2f} | "
                     f"{r['postgresql']['median']:.2f} | {r['postgresql']['p99']:.2f} | "
                     f"{r['postgresql']['median'] / r['sqlite']['median']:.2f}× |"
                     for label, r in (("one writer", one), ("8 writer processes at once", many)))
    kernels = "\n".join(f"| {label} | {k[key]['modules']} | {k[key]['max_rss_mb']:.0f} | {k[key]['uss_mb']:.0f} | "
                        f"{'yes' if k[key]['psycopg'] else 'no'} | {'yes' if k[key]['sqlalchemy'] else 'no'} |"
                        for label, key in (("no store", "none"), ("SQLite", "sqlite"), ("PostgreSQL", "postgresql")))
    background = report["background"]
    busy = ", ".join(f"{name} {s['mean']:.2f}" for name, s in background.items())
    return f"""# The answer store on SQLite and on PostgreSQL

Measured by `{report['command']}` on {m['date']}, commit {m['commit']}: {m['cores']} cores ({m['cpu']}),
{m['ram_gb']} GB RAM, Python {m['python']}, PostgreSQL {report['server']}. Wall time {report['wall_s']:.0f} s.
Other processes on this shared machine used on average (cores, per section): {busy or 'not sampled'}.

## Save latency, same run

A save is `AnswerStore.save`: check the learner, append a revision (triggers count it and move the latest
pointer), commit; it returns once the commit is durable. SQLite: WAL with synchronous=FULL, the file on this machine's disk.
PostgreSQL: a throwaway cluster of Debian's server on this machine, over a unix socket, fsync and
synchronous_commit on (defaults); a write takes no lock of its own (two saves of one item at once meet on
its unique key, and the later runs again). Times in ms;
one writer alternates {ROUNDS} rounds between the back ends ({one['sqlite']['n']:,} saves each).

| | SQLite median | SQLite p99 | PostgreSQL median | PostgreSQL p99 | PostgreSQL / SQLite (median) |
|---|---:|---:|---:|---:|---:|
{rows}

One writer: a save on PostgreSQL takes **{ratio:.1f}×** as long as on SQLite here (median); with eight
writer processes at once (half their saves to one item they all share, so they wait on one another), {many_ratio:.1f}×.
The slowest p99 above is {slowest:.0f} ms, against the page's 0.6 s pause in typing before an autosave. The
reason to choose PostgreSQL is not speed on one machine: it is one store for servers on several machines
(a hub's single-user servers), which a SQLite file cannot be.

## What the store adds to a learner's kernel

A process that imports `course.lesson.session` and saves one answer (medians of 3 runs): its peak RSS
(VmHWM, shared libraries included) and its own memory at the end (USS: private pages, what each more kernel
costs). A real Voilà kernel loads ipykernel and the module's own code besides. A kernel on
SQLite loads neither psycopg nor SQLAlchemy; psycopg is imported only when the store is a PostgreSQL URL.

| store | modules loaded | peak RSS (MB) | own memory, USS (MB) | psycopg | SQLAlchemy |
|---|---:|---:|---:|---|---|
{kernels}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--saves", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    started, background = time.monotonic(), Background().start()
    with postgres.cluster() as cluster, tempfile.TemporaryDirectory(prefix="allies-store-bench-") as tmp:
        work = Path(tmp)
        server = subprocess.run([str(cluster.bin / "postgres"), "--version"], capture_output=True,
                                text=True).stdout.strip().split(" ", 2)[2]  # "15.18 (Debian …)"
        background.mark("one writer")
        one = one_writer({"sqlite": str(work / "one.sqlite"), "postgresql": cluster.database("one")}, args.saves)
        background.mark("eight writers")
        many = many_writers({"sqlite": str(work / "many.sqlite"), "postgresql": cluster.database("many")},
                            args.saves)
        background.mark("kernels")
        kernels = {}
        for name, location in (("none", None), ("sqlite", str(work / "kernel.sqlite")),
                               ("postgresql", cluster.database("kernel"))):
            if location:
                AnswerStore(location).add_learner("solo", "Solo")
            kernels[name] = kernel(location, work)
    background.stop()
    report = {"machine": describe(), "command": "python bench/store.py" + "".join(f" {a}" for a in sys.argv[1:]),
              "server": server, "wall_s": time.monotonic() - started, "one": one, "many": many,
              "kernel": kernels, "background": background.summary()}
    args.out.write_text(markdown(report), encoding="utf-8")
    print(markdown(report))


if __name__ == "__main__":
    main()
