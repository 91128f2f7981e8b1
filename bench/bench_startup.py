"""Start-up time of `ticketctl --help` against `python -c "import typer"` (a benchmark).

    python bench/bench_startup.py [--runs 10]

Runs each command N times alternately (so noise hits both alike), takes the median wall time, prints a
table and writes JSON to bench/results/. Target: --help within 1.5x of the bare import.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import measure, print_table, write_json  # noqa: E402

TARGET = 1.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    commands = {
        "python -c 'import typer'": [sys.executable, "-c", "import typer"],
        "ticketctl --help": [sys.executable, "-m", "ticketctl", "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    rss: dict[str, float] = {}
    # typer's modules load from the .pyc files pip wrote when it installed them; ours get theirs here, as
    # `pip install ticketctl` would. The warm-up runs alone cannot be relied on: with
    # PYTHONDONTWRITEBYTECODE set, they write none, and every run would compile ticketctl from source.
    compileall.compile_dir(ROOT / "ticketctl", quiet=1)
    for cmd in commands.values():  # one warm-up each: the first run pays for cold OS file caches
        measure(cmd, env=env, cwd=ROOT)
    for _ in range(args.runs):
        for name, cmd in commands.items():
            run = measure(cmd, env=env, cwd=ROOT)
            if run.returncode != 0:
                print(run.stderr, file=sys.stderr)
                return 1
            times[name].append(run.seconds)
            rss[name] = max(rss.get(name, 0.0), run.peak_rss_mb)
    medians = {name: statistics.median(values) for name, values in times.items()}
    base, ours = medians["python -c 'import typer'"], medians["ticketctl --help"]
    ratio = ours / base
    print_table(
        ["command", "median ms", "min ms", "peak RSS MB"],
        [[n, f"{medians[n] * 1000:.0f}", f"{min(times[n]) * 1000:.0f}", f"{rss[n]:.1f}"] for n in commands],
    )
    print(f"ratio: {ratio:.2f}x (target <= {TARGET}x{'' if ratio <= TARGET else '; MISSED'})")
    path = write_json(
        "startup",
        {"runs": args.runs, "seconds": times, "median": medians, "peak_rss_mb": rss, "ratio": ratio},
    )
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
