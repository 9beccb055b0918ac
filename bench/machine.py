"""What the numbers were measured on, and how busy other processes kept the machine meanwhile."""
from __future__ import annotations

import datetime
import os
import platform
import subprocess
import threading
import time
from importlib import metadata

import psutil

from .servers import ROOT


def describe() -> dict:
    """Cores, RAM, CPU model, versions, date and the commit (with files changed since) under test."""
    with open("/proc/cpuinfo") as fh:
        model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")),
                     platform.processor())

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "absent"

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], check=False, cwd=ROOT, capture_output=True, text=True).stdout

    return {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "cores": os.cpu_count(), "physical_cores": psutil.cpu_count(logical=False),
            "ram_gb": round(psutil.virtual_memory().total / 1024**3, 1), "cpu": model,
            "python": platform.python_version(), "os": platform.platform(),
            "versions": {n: version(n) for n in ("voila", "jupyter_server", "ipywidgets", "ipykernel",
                                                 "matplotlib", "playwright")},
            "commit": git("rev-parse", "--short", "HEAD").strip(),
            "changed": [line[3:] for line in git("status", "--porcelain", "course", "modules").splitlines()],
            "loadavg_start": os.getloadavg()}


class Background:
    """Samples, once a second, the CPU used by processes outside this bench (other sessions' tests and
    servers share these cores), the whole machine's busy CPU, and CPU stolen by the hypervisor;
    `mark(name)` starts a new section of the run."""

    def __init__(self):
        self.me = psutil.Process()
        self.sections: dict[str, list[float]] = {}
        self.machine: dict[str, list[tuple[float, float]]] = {}
        self.current = "setup"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Background:
        self._thread.start()
        return self

    def mark(self, name: str) -> None:
        self.current = name

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _ours(self) -> set[int]:
        try:
            return {self.me.pid, *(p.pid for p in self.me.children(recursive=True))}
        except psutil.Error:
            return {self.me.pid}

    def _others(self) -> dict[int, float]:
        ours, used = self._ours(), {}
        for p in psutil.process_iter(["pid", "cpu_times"]):
            t = p.info["cpu_times"]
            if p.info["pid"] not in ours and t is not None:
                used[p.info["pid"]] = t.user + t.system
        return used

    @staticmethod
    def _cpu() -> tuple[float, float]:
        t = psutil.cpu_times()._asdict()
        busy = sum(t.get(k, 0.0) for k in ("user", "nice", "system", "irq", "softirq"))
        return busy, t.get("steal", 0.0)

    def _run(self) -> None:
        before, cpu, then = self._others(), self._cpu(), time.monotonic()
        while not self._stop.wait(1.0):
            now, cpu_now, at = self._others(), self._cpu(), time.monotonic()
            busy = sum(v - before[pid] for pid, v in now.items() if pid in before and v >= before[pid])
            self.sections.setdefault(self.current, []).append(busy / (at - then))
            self.machine.setdefault(self.current, []).append(
                ((cpu_now[0] - cpu[0]) / (at - then), (cpu_now[1] - cpu[1]) / (at - then)))
            before, cpu, then = now, cpu_now, at

    def summary(self) -> dict[str, dict]:
        """Per section: mean and peak cores used by other processes; mean cores busy on the whole machine
        and mean cores stolen by the hypervisor."""
        out = {}
        for name, xs in self.sections.items():
            machine = self.machine.get(name, [(0.0, 0.0)])
            out[name] = {"mean": sum(xs) / len(xs), "max": max(xs), "seconds": len(xs),
                         "machine": sum(m[0] for m in machine) / len(machine),
                         "steal": sum(m[1] for m in machine) / len(machine)}
        return out


def table(m: dict) -> list[str]:
    """What `describe()` found, as the markdown table that opens a bench's report."""
    v = m["versions"]
    return ["| machine | |", "| --- | --- |", f"| CPU | {m['cores']} cores, {m['cpu']} |",
            f"| RAM | {m['ram_gb']} GB |",
            f"| Python | {m['python']}; voila {v['voila']}, jupyter_server {v['jupyter_server']}, "
            f"ipykernel {v['ipykernel']} |",
            f"| code | commit {m['commit']}; uncommitted changes in course/ or modules/: "
            f"{', '.join(m['changed']) or 'none'} |",
            f"| load average at start | {' / '.join(f'{x:.2f}' for x in m['loadavg_start'])} |", ""]
