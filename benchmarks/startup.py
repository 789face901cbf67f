"""How long veil takes to be ready: a fresh process importing the video path and loading its models.

    .venv/bin/python benchmarks/startup.py [--repeats 5] [--json OUT]

Each run is a new Python process that imports ``veil.video`` and ``veil.pipeline``, builds the default
``Anonymizer`` and the video job's detector session (what ``veil clip.mp4 -o out.mp4`` does before its
first frame), then exits. Measured with veil's model cache empty (a new temporary ``VEIL_CACHE_DIR``:
the int8 CenterFace is built from the float model, as on a first run) and warm (the same folder again),
``--repeats`` times each, alternating; the median wall time of each is reported.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.photos import machine, publish  # noqa: E402

READY = """
from veil.pipeline import Anonymizer
from veil.video import job_detector
job_detector(Anonymizer())
"""


def ready_seconds(cache: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", READY], check=True, env={**os.environ, "VEIL_CACHE_DIR": str(cache)})
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    runs: dict[str, list[float]] = {"empty cache (first run)": [], "warm cache": []}
    header = machine()
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as empty:
            runs["empty cache (first run)"].append(ready_seconds(Path(empty)))
            runs["warm cache"].append(ready_seconds(Path(empty)))
    report = {"date": dt.date.today().isoformat(), "command": shlex.join([os.path.relpath(sys.executable), *sys.argv]),
              "machine": header, "runs_seconds": runs}
    lines = [f"## Start-up ({report['date']})", "", f"- Command: `{report['command']}`", f"- Machine: {header}", "",
             "| model cache | ready after (s, median) | runs (s) |", "|---|---|---|"]
    lines += [f"| {name} | {statistics.median(s):.2f} | {', '.join(f'{v:.2f}' for v in s)} |" for name, s in runs.items()]
    publish(report, "\n".join(lines), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
