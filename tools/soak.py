"""Flake hunt: `predemo` against one healthy stage, many times in a row; prints red runs and retries.

    .venv/bin/python tools/soak.py [--runs 30] [--marks "predemo"]

A red run or a retry on a healthy stage is a flake; fix it at its cause, not with more retries.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.stage import Stage  # noqa: E402
from smoke.verdict import from_json  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--marks", default="predemo")
    options = parser.parse_args()
    red_runs, retries, seconds = 0, 0, []
    with tempfile.TemporaryDirectory(prefix="care2-soak-") as scratch, Stage(workdir=Path(scratch) / "stage") as stage:
        for number in range(1, options.runs + 1):
            reports = Path(scratch) / f"run-{number}"
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "pytest", "-m", options.marks, f"--env-file={stage.env_file}",
                            "-p", "no:cacheprovider", "-q"], cwd=ROOT, capture_output=True,
                           env={**os.environ, "SMOKE_REPORTS_DIR": str(reports)})
            seconds.append(time.monotonic() - started)
            verdict = from_json((reports / "verdict.json").read_text())
            retried = [line for outcome in verdict.outcomes for line in outcome.retried]
            red = [outcome.title for outcome in verdict.outcomes if outcome.red]
            warned = [line for outcome in verdict.outcomes for line in outcome.warnings]
            red_runs += bool(red)
            retries += len(retried)
            line = f"run {number:2}: {verdict.state:<16} {seconds[-1]:5.1f} s"
            line += f"  red: {', '.join(red)}" if red else ""
            line += f"  retried: {'; '.join(retried)}" if retried else ""
            line += f"  warnings: {'; '.join(warned)}" if warned else ""
            print(line, flush=True)
    print(f"{options.runs} runs: {red_runs} red, {retries} retries; "
          f"wall time min {min(seconds):.1f} s, max {max(seconds):.1f} s")
    sys.exit(1 if red_runs or retries else 0)


if __name__ == "__main__":
    main()
