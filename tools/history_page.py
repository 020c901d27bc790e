"""How fast and how large the run history's page is for a full history: prints the figures.

    .venv/bin/python tools/history_page.py [--runs 2000] [--times 5]

A made-up week (fixtures/history.py: every 5 minutes, a slow stretch, two incidents) written as
history.jsonl, then `python -m smoke.history`'s work timed: read the file, render the page. The first
render also compiles the templates; the others do not. CPU time beside the wall time: on a busy machine
the wall time says more about the machine. Target (issue 22): well under a second, a page of
a few hundred KB at most.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.history import week  # noqa: E402
from smoke import history  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--times", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="care2-history-") as scratch:
        lines, page = Path(scratch, history.FILE_NAME), Path(scratch, history.PAGE_NAME)
        runs = week(every=timedelta(minutes=5), count=options.runs)
        lines.write_text("".join(json.dumps(asdict(run), ensure_ascii=False) + "\n" for run in runs), encoding="utf-8")
        wall, cpu = [], []
        for _ in range(options.times):
            started, used = time.perf_counter(), time.process_time()
            history.write_page(lines, page)
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - used)
        print(f"{options.runs} runs over {runs[-1].when - runs[0].when}: history.jsonl "
              f"{lines.stat().st_size / 1024:.0f} KB, page {page.stat().st_size / 1024:.0f} KB")
        print(f"read and render, first (templates compiled): {wall[0]:.3f} s wall, {cpu[0]:.3f} s CPU")
        print(f"read and render, then: median {statistics.median(wall[1:] or wall):.3f} s wall, "
              f"{statistics.median(cpu[1:] or cpu):.3f} s CPU (min {min(wall[1:] or wall):.3f} s wall)")
        print(f"load average now {' '.join(f'{load:.1f}' for load in os.getloadavg())}" if hasattr(os, "getloadavg")
              else "")

if __name__ == "__main__":
    main()
