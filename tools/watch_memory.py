"""Does `care2-predemo watch` stay flat in memory over a long watch? Prints the watcher's resident memory.

    .venv/bin/python tools/watch_memory.py [--runs 100]

One healthy stage (no PM2), a watch of short-interval runs (--every 0s, HTTP checks only), and the RSS of
the watch process itself (its runs are separate processes that end) after each run's line.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.stage import Stage  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, Stage(pm2=False) as stage:
        command = [sys.executable, "-m", "smoke.cli", "watch", "--every", "0s", "--runs", str(args.runs),
                   "-m", "predemo and not browser and not host", f"--env-file={stage.env_file}",
                   f"--reports-dir={scratch}", "-p", "no:cacheprovider"]
        environ = {name: value for name, value in os.environ.items() if not name.startswith("SMOKE_")}
        started = time.monotonic()
        watching = psutil.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=environ)
        samples = []
        for line in watching.stdout:
            if " run " in line:
                samples.append(watching.memory_info().rss / 2**20)
        watching.wait()
        seconds = time.monotonic() - started
        history_lines = len((Path(scratch) / "history.jsonl").read_text(encoding="utf-8").splitlines())
    if not samples:
        print("no run finished", file=sys.stderr)
        return 1
    marks = sorted({0, 9, len(samples) // 2, len(samples) - 1} & set(range(len(samples))))
    print(f"{len(samples)} runs in {seconds:.0f} s ({seconds / len(samples):.2f} s per run); "
          f"history.jsonl holds {history_lines} runs")
    growth = samples[-1] - samples[min(9, len(samples) - 1)]
    print("watcher RSS after run " + ", ".join(f"{index + 1}: {samples[index]:.1f} MB" for index in marks)
          + f"; max {max(samples):.1f} MB, growth from run 10 to the last {growth:+.1f} MB")
    return watching.returncode


if __name__ == "__main__":
    sys.exit(main())
