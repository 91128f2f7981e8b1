"""Helpers shared by the benchmarks: run a child and measure it, write results, describe the machine."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0  # user + system time of the measured process (wait4), steadier than wall time


# Linux carries a process's peak RSS across fork and exec, so a child forked straight from this (large)
# process would report our own peak. A small launcher forks the measured command instead and reports
# the peak of that grandchild alone, and its wall time: timed out here, the launcher's own interpreter
# start-up (tens of ms) would be added to every command alike and shrink the start-up ratio.
_LAUNCHER = (
    "import os, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "proc = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(proc.pid, 0)\n"
    "seconds = time.perf_counter() - start\n"
    "open(sys.argv[1], 'w').write(f'{usage.ru_maxrss} {seconds} {usage.ru_utime + usage.ru_stime}')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def measure(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run a command to the end; its wall time, peak RSS and CPU time (all taken in a launcher)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f".child-{os.getpid()}-{threading.get_ident()}"  # two may run at once
    out_path, err_path, rss_path = (stem.with_suffix(s) for s in (".out", ".err", ".rss"))
    with out_path.open("wb") as out, err_path.open("wb") as err:
        code = subprocess.call(
            [sys.executable, "-c", _LAUNCHER, str(rss_path), *args], stdout=out, stderr=err, env=env, cwd=cwd
        )
    rss_kib, seconds, cpu = rss_path.read_text().split()
    run = Run(float(seconds), int(rss_kib) / 1024, code, out_path.read_text(), err_path.read_text(), float(cpu))
    for path in (out_path, err_path, rss_path):
        path.unlink()
    return run


def machine() -> dict[str, object]:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "nproc": len(os.sched_getaffinity(0)),
    }


def clean_up(work: Path, keep: bool) -> None:
    """Remove a benchmark's work folder, or say where it was kept."""
    if keep:
        print(f"work folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def write_json(name: str, data: dict[str, object]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2) + "\n")
    return path


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))
