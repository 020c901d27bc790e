"""How fast and how light the pre-demo run is: prints min / median / max per case.

    .venv/bin/python tools/benchmark.py [--runs 5]

    .venv/bin/python tools/benchmark.py --only "HTTP" --real-app   # against the real app on this host

Cases (targets from issues 7 and 13):
  healthy, full set with the walk      median <= 12 s
  healthy, without the walk            median <= 1.3 s (host checks included)
  healthy, HTTP checks only            median <= 1.0 s and <= 3x the floor (tools/floor.py, same requests,
                                       run alternately with the suite)
  everything down (nothing listens)    NO-GO report written in <= 10 s
  everything hung (accept, no answer)  NO-GO report written in <= 30 s
  healthy, host checks only            (their time, with the logs' signs read), and apart: locating and reading
                                       every Care2 log with the evidence of every role, "well under a second"
  pages never end (stage page-endless) NO-GO naming the pages; pytest <= 200 MB, whole run <= 400 MB (issue 17)
and the peak resident memory of the pytest process itself (Chromium and the stage aside) <= 200 MB, and of
the whole run (pytest and its children: Playwright's driver, Chromium; proportional set sizes where known).
With --real-app the healthy cases run against the bundled "local" environment (the real Care2 app started
by ../shared/realapp on its documented ports) instead of the stage.
"""

from __future__ import annotations

import argparse
import compileall
import html
import itertools
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import psutil
import tomli_w

try:
    import resource  # the CPU time of finished children (not on Windows)
except ImportError:
    resource = None

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.stage import Stage  # noqa: E402

REQUEST_ROW = re.compile(r"<tr><td>([A-Z]+) (https?://[^<]+)</td>")  # the report's list of a check's requests


def children_cpu() -> float:
    """CPU seconds (user and system) of this process's finished children so far (0 where not known): unlike the
    wall time, hardly moved by other work on a loaded machine."""
    if resource is None:
        return 0.0
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_suite(env_file: Path | None, view: str, marks: str, reports: Path) -> tuple[float, float, float, int, float]:
    """The suite's run with ``marks``, measured (see measure())."""
    env = [f"--env-file={env_file}"] if env_file else []
    return measure([sys.executable, "-m", "pytest", "-m", marks, *env, "--env", view, "-p", "no:cacheprovider", "-q"],
                   {"SMOKE_REPORTS_DIR": str(reports)})


def measure(command: list[str], environ: dict[str, str]) -> tuple[float, float, float, int, float]:
    """Wall seconds, peak RSS (MB) of the process, peak memory of the whole run (the process and its children:
    Playwright's driver, Chromium; see resident()), exit code, CPU seconds. The suite and the floor are measured
    alike: reading a process's memory while it runs slows it a little. The wall time ends when the process does
    (waited for, not polled: a poll's interval would add up to its length to every run)."""
    started, cpu = time.monotonic(), children_cpu()
    child = psutil.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env={**os.environ, **environ})
    peaks, ended = [0, 0], threading.Event()
    sampler = threading.Thread(target=sample_memory, args=(child, peaks, ended))
    sampler.start()
    code = child.wait()
    wall = time.monotonic() - started
    ended.set()
    sampler.join()
    return wall, peaks[0] / 2**20, peaks[1] / 2**20, code, children_cpu() - cpu


def sample_memory(child: psutil.Popen, peaks: list[int], ended: threading.Event) -> None:
    """Into ``peaks``: the process's peak RSS and the whole run's peak memory, sampled every 50 ms until ``ended``."""
    for tick in itertools.count():
        try:
            peaks[0] = max(peaks[0], child.memory_info().rss)
            if tick % 5 == 0:  # every 0.25 s: reading every process's share costs more than its RSS
                descendants = child.children(recursive=True)
                peaks[1] = max(peaks[1], resident(child) + sum(resident(process) for process in descendants))
        except psutil.NoSuchProcess:
            return
        if ended.wait(0.05):
            return


def resident(process: psutil.Process) -> int:
    """Its proportional share (PSS) where the system tells it (Linux): Chromium's processes share most of
    their pages, which a sum of resident sizes would count once per process. Elsewhere its resident size."""
    try:
        return getattr(process.memory_full_info(), "pss", None) or process.memory_info().rss
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def nowhere_env(folder: Path, ports: dict[str, int], name: str) -> Path:
    """An env file whose every address is one of ``ports`` (nothing there, or a hung listener)."""
    path = folder / f"{name}.toml"
    path.write_text(tomli_w.dumps({"environments": {name: {
        "kind": "local", "site_url": f"http://127.0.0.1:{ports['site']}", "api_url": f"http://127.0.0.1:{ports['api']}",
        "ports": {"frontend": ports["site"], "backend": ports["api"], "proxy": 0},
        "tunnel": {"metrics": f"127.0.0.1:{ports['metrics']}"},
        "pm2": {"command": [sys.executable, "-c", "print('[]')"]},
    }}}))
    return path


def listeners(stack: ExitStack, count: int, accept: bool) -> list[int]:
    """``count`` loopback ports: listening but never answering (accept=True), or closed again."""
    ports = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        ports.append(sock.getsockname()[1])
        if accept:
            sock.listen(64)
            stack.callback(sock.close)
        else:
            sock.close()
    return ports


def run_floor(reports: Path) -> tuple[float, float]:
    """tools/floor.py making the requests the suite's last run made (its report lists them): wall and CPU seconds."""
    page = (reports / "latest.html").read_text(encoding="utf-8")
    asked = dict.fromkeys(html.unescape(f"{method} {url}") for method, url in REQUEST_ROW.findall(page))
    requests = reports / "floor-requests.txt"
    requests.write_text("\n".join(asked), encoding="utf-8")
    wall, _, _, code, cpu = measure([sys.executable, str(ROOT / "tools" / "floor.py"), str(requests)], {})
    if code:
        raise SystemExit(f"tools/floor.py failed with exit code {code}")
    return wall, cpu


def evidence_seconds(env_file: Path | None, view: str) -> str:
    """Locating the Care2 logs (after PM2's list) and reading every role's evidence and the signs, timed in-process."""
    from smoke.probes import cloudflared, log_signs, logs, pm2
    from smoke.target import load_target

    target = load_target(view, str(env_file) if env_file else None)
    listing = pm2.read_jlist(target.pm2.command, target.pm2.timeout) if target.pm2.apps else None
    started = time.perf_counter()
    found = logs.sources(target, pm2.apps_of(listing), cloudflared.care2_tunnels(target.tunnel.name))
    host = log_signs.HostLogs(found, logs.mark(source.path for source in found), time.time())
    quoted = [line for role in ("frontend", "backend", "tunnel", "proxy") for line in host.evidence(role)]
    signs = host.signs(time.time(), pm2.apps_of(listing))
    seconds = time.perf_counter() - started
    read = sum(len(each.lines) for each in host.reads)
    return (f"{'  evidence: every log, every role':<38} {seconds * 1000:5.0f} ms for {len(found)} files, {read} lines; "
            f"{len(quoted)} evidence lines, {sum(map(len, signs.values()))} signs")


def summary(label: str, times: list[float], peaks: list[float], wholes: list[float], codes: list[int]) -> str:
    return (f"{label:<38} min {min(times):5.2f} s  median {statistics.median(times):5.2f} s  "
            f"max {max(times):5.2f} s  peak RSS {max(peaks):5.0f} MB (whole run {max(wholes):5.0f} MB)  "
            f"exit codes {sorted(set(codes))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", help="run only the cases whose label contains this text")
    parser.add_argument("--real-app", action="store_true",
                        help="the healthy cases against the real app (bundled 'local' environment), not the stage")
    options = parser.parse_args()
    # The suite's bytecode as a demo host has it from its first run on: where PYTHONDONTWRITEBYTECODE is set, or a
    # merge changed a module since its bytecode was written, every run measured would compile it again.
    compileall.compile_dir(ROOT / "smoke", quiet=1)
    with tempfile.TemporaryDirectory(prefix="care2-bench-") as scratch, ExitStack() as stack:
        folder = Path(scratch)
        if options.real_app:
            healthy = None
        else:
            started = time.monotonic()
            stage = stack.enter_context(Stage(workdir=folder / "stage"))
            print(f"stage up in {time.monotonic() - started:.1f} s")
            healthy = stage.env_file
        endless = stack.enter_context(Stage(faults={"page-endless"}, workdir=folder / "endless")).env_file
        roles = ("site", "api", "metrics")
        down = nowhere_env(folder, dict(zip(roles, listeners(stack, 3, accept=False), strict=True)), "down")
        hung = nowhere_env(folder, dict(zip(roles, listeners(stack, 3, accept=True), strict=True)), "hung")
        cases = [
            ("healthy, full set with the walk", healthy, "local", "predemo"),
            ("healthy, without the walk", healthy, "local", "predemo and not browser"),
            ("healthy, HTTP checks only", healthy, "local", "predemo and not browser and not host"),
            ("healthy, host checks only", healthy, "local", "predemo and host"),
            ("everything down, full set", down, "down", "predemo"),
            ("everything hung, full set", hung, "hung", "predemo"),
            ("pages never end, full set", endless, "local", "predemo"),
        ]
        for label, env_file, view, marks in cases:
            if options.only and options.only not in label:
                continue
            results, floors = [], []
            for _ in range(options.runs):  # alternately, so that both see the same machine
                results.append(run_suite(env_file, view, marks, folder / "reports"))
                if "HTTP" in label:
                    floors.append(run_floor(folder / "reports"))
            times, peaks, wholes, codes, cpus = (list(column) for column in zip(*results, strict=True))
            print(summary(label, times, peaks, wholes, codes), flush=True)
            if "host checks" in label:
                print(evidence_seconds(env_file, view), flush=True)
            if floors:
                walls, floor_cpus = (list(column) for column in zip(*floors, strict=True))
                print(f"{'  floor: tools/floor.py, same requests':<38} min {min(walls):5.2f} s  median "
                      f"{statistics.median(walls):5.2f} s  max {max(walls):5.2f} s  suite/floor "
                      f"{statistics.median(times) / statistics.median(walls):.1f}x", flush=True)
                if resource is not None:
                    print(f"{'  CPU seconds, suite / floor':<38} median {statistics.median(cpus):5.2f} s / "
                          f"{statistics.median(floor_cpus):5.2f} s: "
                          f"{statistics.median(cpus) / statistics.median(floor_cpus):.1f}x", flush=True)


if __name__ == "__main__":
    main()
