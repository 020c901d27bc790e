"""What the suite says on the stage's fault catalog and on the real app, recorded and compared across two versions.

    .venv/bin/python tools/catalog_verdicts.py record OUT_DIR [--checkout PATH] [--faults a,b] [--views local,...]
    .venv/bin/python tools/catalog_verdicts.py record OUT_DIR --real-app [ENV_FILE] [--checkout PATH]
    .venv/bin/python tools/catalog_verdicts.py compare DIR_A DIR_B

record: for healthy and each fault of fixtures/stage/faults.py (one stage under PM2 each), and each view, runs the
HTTP and host set (-m "predemo and not browser") of the checkout at PATH (its code: pytest runs in PATH) and writes
<fault>-<view>.json: the verdict and each check's state, result, message, warnings and fixes, with what differs from
one run of the same code to the next (ports, pids, folders, cf-ray ids, times, durations, memory figures) replaced
by placeholders. Warnings about other stages' tunnels on this host are left out, and the verdict taken again
without them. --real-app: one run against the real app instead (read-only; PM2_HOME from --pm2-home).
compare: "identical" per run, or a unified diff of the two files; exit 1 when any run differs or is missing.
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.stage import FAULTS, Stage, StageError  # noqa: E402
from smoke.verdict import GO_WITH_WARNINGS, decide, from_json  # noqa: E402

MARKS = "predemo and not browser"
RUN_GUARD = 600  # seconds; a run that has not ended by then is recorded as an error
REAL_APP_PM2_HOME = "/tmp/c2c-pm2"  # where ../shared/realapp's pm2-adopt.sh puts the real app's PM2
HUNG_UPSTREAM = "<times out or answers 503>"
PID_SAID = r"(\b(?:PID|pid|kill|pids?|process) |@)"  # where a message or a fix names a process by its pid
# What changes from one run of the same code to the next, in the order replaced (after the stage's own ports,
# pids and folders, which get names: <port:backend>, <pid:cloudflared>, <stage>)
JITTER = [
    (re.compile(r"\b[0-9a-f]{16}(-[A-Z]{3})?\b"), "<cf-ray>"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?(\.\d+)?(Z|[+-]\d\d:?\d\d| UTC)?"), "<time>"),
    (re.compile(r"\b\d\d:\d\d:\d\d\b"), "<time>"),
    (re.compile(r"/tmp/[^\s'\"),;]+"), "<tmp>"),
    (re.compile(r"\b\d+(\.\d+)? ?(ms|s|sec|seconds?|min|minutes?|h|hours?|days?)\b"), "<duration>"),
    (re.compile(r"<duration>( <duration>)+"), "<duration>"),  # an uptime of 59 min, then of 1 h 0 min
    (re.compile(r"\b\d+(\.\d+)? ?([kKMG]i?[bB]|b|bytes)\b"), "<memory>"),
    (re.compile(rf"{PID_SAID}\d+\b"), r"\1<pid>"),
    (re.compile(r"\(build [\w-]+, built"), "(build <build>, built"),  # Next's random id of a frontend build
    (re.compile(r"connect <duration>, "), ""),  # a request on a kept-alive connection times no connect
    (re.compile(r"\b\d+ (times|restarts|of them)\b"), r"<n> \1"),  # the crash loop and its logs go on counting
    # a log line quoted as evidence: whether it was written once or more, by which of the requests made side by side
    (re.compile(r", <n> times since the run started"), ""),
    (re.compile(r"\b(GET|HEAD|POST) ((api\.)?care2connects\.org)/[^\s\"…]*"), r"\1 \2/<path>"),
    (re.compile(r"dest=https://[^\s\"…]*(…| [^\s…]{0,5}…)?"), "dest=<url>"),
    (re.compile(r"ingressRule=\d+"), "ingressRule=<n>"),
    # an upstream that hangs: whether the proxy's health check has dropped it yet (then 503) is a matter of time
    (re.compile(r"(the proxy|Caddy) on (\S+ \(ports\.proxy\)) (gives no answer \(timed out after <duration> waiting "
                r"for an answer\)|answers 503) (for \S+: its upstream \S+ \(ports\.\w+\) gives no answer)"),
     rf"the proxy on \2 {HUNG_UPSTREAM} \4"),
    (re.compile(r"\b\d+ -> \d+ within"), "<n> -> <n> within"),
    (re.compile(r"up only <duration>|'[a-z ]+' now, <duration> after its last start"), "<between two crashes>"),
    # other stages' tunnels on this host (parallel runs, other checkouts), which the real app (no cloudflared) lists
    (re.compile(r"PID <pid> `[^`]*care2connects-tunnel-\d+[^`]*`( \([^)]*\))?(; PID <pid> `[^`]*`( \([^)]*\))?)*"),
     "<other stages' tunnels>"),
]
# other stages' cloudflared on this host: a stage runs one cloudflared, so every tunnel beside it is another's
BESIDE = re.compile(r"^Tunnel: .* runs beside the named tunnel: ")
EVIDENCE = re.compile(r"\s*evidence: ")
# with an upstream that hangs, the proxy's log lines of its 503s are there or not as time went
PROXY_503_EVIDENCE = re.compile(r"\n\s*evidence: proxy log \([^)]*\): [^\n]*(no upstreams available|-> 503)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    record = commands.add_parser("record", help="record the normalised verdicts into OUT_DIR")
    record.add_argument("out", type=Path, metavar="OUT_DIR")
    record.add_argument("--checkout", type=Path, default=ROOT, help="the code under test (default: this checkout)")
    record.add_argument("--faults", type=names, help="comma-separated; 'healthy' for none (default: all and healthy)")
    record.add_argument("--views", type=names, default=["local", "production"])
    record.add_argument("--real-app", nargs="?", const=True, type=Path, metavar="ENV_FILE",
                        help="one run against the real app instead (default: the bundled 'local' environment, "
                             "as tools/benchmark.py --real-app)")
    record.add_argument("--pm2-home", default=REAL_APP_PM2_HOME, help="the real app's PM2_HOME (with --real-app)")
    compare = commands.add_parser("compare", help="compare two recordings; exit 1 when any run differs")
    compare.add_argument("first", type=Path, metavar="DIR_A")
    compare.add_argument("second", type=Path, metavar="DIR_B")
    options = parser.parse_args()
    if options.command == "compare":
        return compare_dirs(options.first, options.second)
    faults = options.faults or ["healthy", *FAULTS]
    unknown = sorted(set(faults) - {"healthy", *FAULTS})
    if unknown:
        parser.error(f"unknown fault(s): {', '.join(unknown)} (see: python -m fixtures.stage faults)")
    checkout = options.checkout.resolve()
    problem = code_problem(checkout)
    if problem:
        parser.error(problem)
    options.out.mkdir(parents=True, exist_ok=True)
    if options.real_app:
        env_file = None if options.real_app is True else options.real_app.resolve()
        failed = record_real_app(checkout, env_file, options.pm2_home, options.out)
    else:
        failed = [name for fault in faults for name in record_fault(checkout, fault, options.views, options.out)]
    print(f"{len(failed)} run(s) not recorded: {', '.join(failed)}" if failed else "every run recorded")
    return 1 if failed else 0


def names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def code_problem(checkout: Path) -> str:
    """Why pytest run in ``checkout`` would not test that checkout's code ('' when it would)."""
    found = subprocess.run([sys.executable, "-c", "import smoke; print(smoke.__file__)"], cwd=checkout,
                           capture_output=True, text=True)
    where = Path(found.stdout.strip()).resolve() if found.returncode == 0 else None
    if where is None or checkout not in where.parents:
        return f"{checkout}: no smoke package of its own there ({found.stdout.strip() or found.stderr.strip()})"
    return ""


def record_fault(checkout: Path, fault: str, views: list[str], out: Path) -> list[str]:
    """One stage with ``fault`` and a run per view against it; returns the runs not recorded."""
    with tempfile.TemporaryDirectory(prefix="care2-verdicts-") as scratch:
        try:
            with Stage(faults=set() if fault == "healthy" else {fault}, workdir=Path(scratch) / "stage",
                       pm2=True) as stage:
                said = {view: run_suite(checkout, stage.env_file, view, Path(scratch) / view) for view in views}
                known = stage_names(stage, checkout)
        except StageError as error:
            said = {view: {"error": f"the stage did not start: {error}"} for view in views}
            known = {str(checkout): "<checkout>"}
    return [f"{fault}-{view}" for view, verdict in said.items()
            if not write(out / f"{fault}-{view}.json", verdict, known, f"{fault}-{view}")]


def record_real_app(checkout: Path, env_file: Path | None, pm2_home: str, out: Path) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="care2-verdicts-") as scratch:
        said = run_suite(checkout, env_file, "local", Path(scratch) / "reports", PM2_HOME=pm2_home)
    return [] if write(out / "real-app.json", said, {str(checkout): "<checkout>"}, "real-app") else ["real-app"]


def run_suite(checkout: Path, env_file: Path | None, view: str, reports: Path, **environ: str) -> dict:
    """The HTTP and host set run with the checkout's code (``env_file``; None: the bundled environments); what its
    verdict file says (or why there is none)."""
    chosen = [f"--env-file={env_file}"] if env_file else []
    command = [sys.executable, "-m", "pytest", "-m", MARKS, *chosen, "--env", view, "-p", "no:cacheprovider", "-q"]
    try:
        done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, timeout=RUN_GUARD,
                              env={**os.environ, **environ, "SMOKE_REPORTS_DIR": str(reports)})
    except subprocess.TimeoutExpired:
        return {"error": f"no end after {RUN_GUARD} s"}
    verdict_file = reports / "verdict.json"
    if not verdict_file.exists():
        return {"error": f"no verdict file (exit {done.returncode}): {(done.stdout + done.stderr)[-2000:]}"}
    verdict = from_json(verdict_file.read_text(encoding="utf-8"))
    beside = False
    for outcome in verdict.outcomes:
        kept = [warning for warning in outcome.warnings if not BESIDE.match(warning)]
        beside |= kept != outcome.warnings
        outcome.warnings = kept
    if beside and verdict.state == GO_WITH_WARNINGS:  # as it would be without them: GO, or fewer names to look at
        verdict = decide(verdict.outcomes)
    return {"state": verdict.state, "reason": verdict.reason,
            "checks": {outcome.nodeid: {"state": outcome.state, "result": outcome.result, "message": outcome.message,
                                        "warnings": outcome.warnings, "fixes": outcome.fixes}
                       for outcome in verdict.outcomes}}


def stage_names(stage: Stage, checkout: Path) -> dict[str, str]:
    """The running stage's folders, ports and pids (with its apps' children), each with the name it stands for."""
    known = {str(stage.workdir): "<stage>", str(checkout): "<checkout>", str(ROOT): "<checkout>"}
    known |= {str(port): f"<port:{role}>" for role, port in stage.ports.items() if port}
    for name, process in stage.processes.items():
        known[str(process.pid)] = f"<pid:{name}>"
        try:
            known |= {str(child.pid): f"<pid:{name}-child>" for child in process.children(recursive=True)}
        except psutil.NoSuchProcess:
            pass
    return known | {str(entry["pid"]): f"<pid:{app}>" for app, entry in stage.jlist().items() if entry.get("pid")}


def normalise(value, known: dict[str, str], key: str = ""):
    """``value`` (JSON) with every string's known names and jitter replaced by placeholders (and the numbers of a
    fix's data: a port or pid by its name, a process's start time, a time left to wait)."""
    if isinstance(value, dict):
        return {name: normalise(item, known, name) for name, item in value.items()}
    if isinstance(value, list):
        return [normalise(item, known, key) for item in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value:
        if key in ("pid", "port"):
            return known.get(str(value), "<pid>" if key == "pid" else value)
        return {"created": "<time>", "seconds": "<duration>"}.get(key, value)
    if not isinstance(value, str):
        return value
    if value in known:  # a whole argument: a pid to kill
        return known[value]
    for literal in sorted(known, key=len, reverse=True):  # a folder before the folders in it
        if known[literal].startswith("<pid:"):  # only where a pid is said: pid 503 is not HTTP 503
            value = re.sub(rf"{PID_SAID}{literal}\b", rf"\1{known[literal]}", value)
        else:
            value = re.sub(rf"(?<![\w.]){re.escape(literal)}(?![\d])", known[literal], value)
    for pattern, placeholder in JITTER:
        value = pattern.sub(placeholder, value)
    if HUNG_UPSTREAM in value:
        value = PROXY_503_EVIDENCE.sub("", value)
    # the evidence from the logs comes in the order its lines were written, by requests made side by side
    lines = value.split("\n")
    return "\n".join(line for evidence, group in itertools.groupby(lines, lambda line: bool(EVIDENCE.match(line)))
                     for line in (sorted(group) if evidence else group))


def write(path: Path, verdict: dict, known: dict[str, str], name: str) -> bool:
    """Write the normalised verdict, and the verdict as said beside the names it holds in raw/ (compare normalises
    that again, so that a recording gains what is learnt of the jitter later); say whether it is a real one."""
    (path.parent / "raw").mkdir(exist_ok=True)
    (path.parent / "raw" / path.name).write_text(json.dumps({"said": verdict, "names": known}, indent=1),
                                                 encoding="utf-8")
    path.write_text(normalised(verdict, known), encoding="utf-8")
    print(f"{name}: {verdict.get('state') or verdict['error'][:300]}", flush=True)
    return "error" not in verdict


def normalised(verdict: dict, known: dict[str, str]) -> str:
    return json.dumps(normalise(verdict, known), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def recorded(path: Path) -> list[str]:
    """A recorded run's lines, normalised again from raw/ where it is kept."""
    raw = path.parent / "raw" / path.name
    if raw.exists():
        kept = json.loads(raw.read_text(encoding="utf-8"))
        return normalised(kept["said"], kept["names"]).splitlines()
    return path.read_text(encoding="utf-8").splitlines()


def compare_dirs(first: Path, second: Path) -> int:
    runs = sorted({path.name for folder in (first, second) for path in folder.glob("*.json")})
    differing = 0
    for run in runs:
        a, b = first / run, second / run
        if not (a.exists() and b.exists()):
            print(f"{run}: only in {a.parent if a.exists() else b.parent}")
            differing += 1
            continue
        diff = list(difflib.unified_diff(recorded(a), recorded(b), str(a), str(b), lineterm=""))
        differing += bool(diff)
        print("\n".join(diff) if diff else f"{run}: identical")
    print(f"{len(runs)} runs: {differing} differ" if runs else "no runs recorded in either folder")
    return 1 if differing or not runs else 0


if __name__ == "__main__":
    sys.exit(main())
