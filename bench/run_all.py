"""``make bench``: every benchmark script in turn, at full size, and one table of their figures.

    python bench/run_all.py [--quick] [--json] [NAME ...]

Each script (``bench/NAME.py``) is run as its own process with ``--json`` (see
``bench/report.py``), so one benchmark's leftovers never skew the next. They need the local
PostgreSQL and Redis (``TEST_DATABASE_URL`` / ``TEST_REDIS_URL``, as the integration tests).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path[:0] = [
        str(Path(__file__).resolve().parents[1]),
        str(Path(__file__).resolve().parents[1] / "src"),
    ]

from bench.report import Figure, render

BENCH = Path(__file__).resolve().parent

# One script per measure, in the order of docs/BENCHMARKS.md.
SCRIPTS: tuple[str, ...] = (
    "topic_updates",
    "topic_history",
    "context_latency",
    "scan",
    "rebuild",
    "recording",
    "dispatch",
    "footprint",
)


def run_script(name: str, quick: bool) -> list[Figure]:
    command = [sys.executable, str(BENCH / f"{name}.py"), "--json"] + (["--quick"] if quick else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=BENCH.parent)
    if done.returncode != 0:
        raise SystemExit(f"bench/{name}.py failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    figures = []
    for item in json.loads(done.stdout):
        item.pop("ratio", None)
        figures.append(Figure(**item))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("names", nargs="*", choices=[[], *SCRIPTS], metavar="NAME", help="run only these")
    parser.add_argument("--quick", action="store_true", help="small sizes: proves the scripts run")
    parser.add_argument("--json", action="store_true", help="print the figures as a JSON list")
    options = parser.parse_args()
    figures: list[Figure] = []
    for name in options.names or SCRIPTS:
        started = time.perf_counter()
        found = run_script(name, options.quick)
        figures.extend(found)
        if not options.json:
            print(
                f"bench/{name}.py: {len(found)} figure(s) in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
    if options.json:
        print(json.dumps([figure.as_json() for figure in figures], ensure_ascii=False, indent=2))
    else:
        print(render(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
