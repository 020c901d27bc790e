"""`care2-predemo fix --yes` on the stage under each catalog fault a command can fix, and the time each takes back to
GO; for each fault no command can fix, what `fix` says instead (where to fix it, or nothing known). Prints tables.

    .venv/bin/python tools/fix_benchmark.py                   # every fault, the HTTP and host checks
    .venv/bin/python tools/fix_benchmark.py --walk            # the walk too (slower; needed for the walk's faults)
    .venv/bin/python tools/fix_benchmark.py --faults tunnel-down,pm2-zombie

A fault is fixable when a command on a real host undoes it (a stopped app started, a zombie entry recreated, a
foreign process on a Care2 port stopped, a tunnel restarted or left to settle); the stage then recovers for real
(the started app serves, the restarted cloudflared reconnects). The time to GO is the one `fix` prints: from the first
NO-GO to the last verdict, the checks' own runs included.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures.stage import FAULTS, Stage  # noqa: E402

# fault -> the view it is checked in (production: through the edge, where the tunnel's faults show)
FIXABLE = {
    "frontend-down": "local", "backend-down": "local", "pm2-zombie": "local", "rogue-on-backend-port": "local",
    "hang": "local", "tunnel-down": "production", "tunnel-stale": "production", "tunnel-fresh": "production",
}
# the walk's faults show in the walk only
WALK_ONLY = {"mic-blocked", "story-start-500", "processing-stuck", "cors-blocked"}
SCRIPT = shutil.which("care2-predemo", path=str(Path(sys.executable).parent)) or "care2-predemo"
TIME_TO_GO = re.compile(r"time from the first NO-GO to this verdict: ([\d.]+) s")


def fix(stage: Stage, view: str, walk: bool, *options: str) -> tuple[int, str, float]:
    marks = "predemo" if walk else "predemo and not browser"
    with tempfile.TemporaryDirectory(prefix="care2-fix-bench-") as reports:
        started = time.monotonic()
        done = subprocess.run([SCRIPT, "fix", *options, f"--env-file={stage.env_file}", "--env", view, "-m", marks,
                               f"--reports-dir={reports}", "-p", "no:cacheprovider"],
                              cwd=ROOT, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
        return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def fixable(faults: list[str], walk: bool) -> None:
    print(f"{'fault':<24}{'view':<12}{'commands run':<58}{'verdict':<18}{'to GO':>8}{'wall':>8}")
    seconds = []
    for fault in faults:
        view = FIXABLE[fault]
        with Stage({fault}, pm2=True) as stage:
            code, said, wall = fix(stage, view, walk, "--yes")
        ran = [line.split("runs:", 1)[1].strip() for line in said.splitlines() if "runs:" in line]
        commands = "; ".join(_short(command) for command in ran) or "(waits only)" if "run it? yes" in said else "-"
        verdict = next((line.split(":", 2)[1].strip() for line in reversed(said.splitlines())
                        if line.startswith("verdict: ")), "none")
        found = TIME_TO_GO.search(said)
        to_go = float(found.group(1)) if found and code == 0 else None
        if to_go is not None:
            seconds.append(to_go)
        print(f"{fault:<24}{view:<12}{commands[:56]:<58}{verdict:<18}"
              f"{f'{to_go:.1f} s' if to_go is not None else 'not GO':>8}{wall:>7.1f}s")
        if code != 0:
            print("    " + "\n    ".join(said.splitlines()[-25:]))
    if seconds:
        print(f"back to GO: {len(seconds)} of {len(faults)}; median {statistics.median(seconds):.1f} s, "
              f"max {max(seconds):.1f} s")


def unfixable(faults: list[str], walk: bool) -> None:
    print(f"\n{'fault':<24}what `fix --dry-run` says instead of a command")
    for fault in faults:
        view = "production" if fault in {"origin-refused", "ipv6-only-dial", "backend-welcome-on-site"} else "local"
        with Stage({fault}, pm2=True) as stage:
            _, said, _ = fix(stage, view, walk or fault in WALK_ONLY, "--dry-run")
            tried = fix(stage, view, walk or fault in WALK_ONLY, "--yes")[1] if "\n[1/" in said else ""
        lines = said.splitlines()
        start = next((index for index, line in enumerate(lines) if line.startswith("no command can fix")), None)
        listed = []
        for line in lines[start + 1:] if start is not None else []:
            if not line.startswith("  "):
                break
            listed.append(line.strip())
        offered = [line for line in lines if line.startswith("[")]
        print(f"{fault:<24}" + ("\n" + " " * 24).join(listed[:6] or ["(nothing listed)"]))
        if offered:
            ran = [_short(line.split("runs:", 1)[1].strip()) for line in tried.splitlines() if "runs:" in line]
            after = next((line for line in reversed(tried.splitlines()) if line.startswith("verdict: ")), "")
            print(" " * 24 + f"a command offered for other red lines; run with --yes: {'; '.join(ran)} -> "
                  f"{after.removeprefix('verdict: ')[:60]}")


def _short(command: str) -> str:
    """A stage pm2 command as a person types it: `pm2 restart app`."""
    return re.sub(r"^\S+python\S* \S+/pm2\.py (--zombie \S+ )?\S+ ", "pm2 ", command)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", help="comma-separated faults (default: all)")
    parser.add_argument("--walk", action="store_true", help="run the walk too")
    args = parser.parse_args()
    chosen = args.faults.split(",") if args.faults else list(FAULTS)
    unknown = sorted(set(chosen) - FAULTS.keys())
    if unknown:
        parser.error(f"unknown faults: {', '.join(unknown)}")
    fixable([fault for fault in chosen if fault in FIXABLE], args.walk)
    unfixable([fault for fault in chosen if fault not in FIXABLE], args.walk)
    return 0


if __name__ == "__main__":
    sys.exit(main())
