"""care2-predemo fix: from NO-GO back to GO, with your consent for every command.

usage: care2-predemo fix [--yes] [--dry-run] [PYTEST ARGS...]

Runs the pre-demo checks, then offers the red lines' commands one at a time, each shown in full with what it
touches, and runs one only after you answer y. Then it waits as the fixes need (a listener on the port, the
tunnel's settle time), runs the checks again, and ends with the verdict and the time from the first NO-GO to the
last verdict. What no command can fix is listed with where to fix it (the file and line in the app's checkout:
app_config.checkout) and never attempted. Every action and its output: reports/fix-<time>.log.

  --yes      run the commands without asking (scripted use)
  --dry-run  print the plan and run nothing

Never on a production environment checked from CI, nor where this machine does not run the app (host_checks =
false); never a process that changed since it was shown, never a command the verdict file holds redacted.
exit codes: the last verdict's (0 GO or GO WITH WARNINGS, 1 NO-GO or COULD NOT CHECK), 2 interrupted, 4 bad input
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .arguments import INTERRUPTED, Command, exit_code
from .ci import in_ci
from .installed import pytest_args
from .probes.fixes import Fix, Step
from .redact import MASK
from .runs import run_checks
from .target import Target
from .text import clip
from .verdict import NO_GO, Outcome, Verdict, from_json

ROUNDS = 3  # check, fix, check again: at most this many times (a fix can uncover the next red line)
STEP_TIMEOUT = 120.0  # one command of a fix (pm2 start waits for its app)
PORT_WAIT = 30.0  # at most this long for a restarted service to listen again
STOP_WAIT = 10.0  # at most this long for a stopped process to be gone
POLL = 0.2
UNFIXABLE_WIDTH = 240  # a red line no command can fix, as listed: its start (the report has it whole)


@dataclass(frozen=True)
class Action:
    """A fix offered: the red line it is for, and the fix with its steps."""

    outcome: Outcome
    fix: Fix

    @property
    def touches(self) -> frozenset[str]:
        return frozenset(step.touches for step in self.fix.steps) or frozenset({"waiting"})

    @property
    def key(self) -> tuple:
        return tuple(step.argv for step in self.fix.steps) or ("wait",)


def plan(verdict: Verdict, tried: set[tuple] = frozenset()) -> tuple[list[Action], list[Outcome]]:
    """The fixes to offer, in checklist order, and the red lines no command (or wait) can fix.

    Several lines may name the same app: a later line's fix, which read more (the host checks read PM2's list and
    the ports), wins over an earlier one that touches nothing more, and a fix that touches more (stops the program
    on the app's port, then starts the app) over one that touches part of it; a fix tried already is not offered
    again."""
    red = [outcome for outcome in verdict.outcomes if outcome.red]
    offered = [Action(outcome, fix) for outcome in red for fix in map(Fix.of, outcome.fixes) if fix.steps or fix.wait]
    kept, covered = [], set()
    for action in reversed(offered):
        if action.touches <= covered or action.key in tried:
            continue
        covered |= action.touches
        kept.append(action)
    kept = [action for action in reversed(kept) if not any(action.touches < other.touches for other in kept)]
    fixable = {id(action.outcome) for action in offered}
    return kept, [outcome for outcome in red if id(outcome) not in fixable]


def main(command: Command, target: Target, ask: Callable[[str], str] = input) -> int:
    session = Session(command, target, command.reports, ask)
    try:
        return session.run()
    except KeyboardInterrupt:
        return session.end_interrupted()


class Session:
    """One `fix`: the checks, the offers, the commands run and their log, the checks again."""

    def __init__(self, command: Command, target: Target, reports: Path, ask: Callable[[str], str]):
        self.command, self.target, self.reports, self.ask = command, target, reports, ask
        reports.mkdir(parents=True, exist_ok=True)
        self.log_path = reports / f"fix-{datetime.now():%Y%m%d-%H%M%S}.log"
        self.verdict: Verdict | None = None
        self.report = ""
        self.code = 1
        self.first_no_go: float | None = None
        self.interrupted = False  # a Ctrl-C came while a fix ran
        self.fixes_run = 0

    # -- the run ---------------------------------------------------------------------------------

    def run(self) -> int:
        self.check()
        tried: set[tuple] = set()
        for _ in range(ROUNDS):
            if self.verdict is None or self.verdict.state != NO_GO:
                break
            actions, unfixable = plan(self.verdict, tried)
            self.list_unfixable(unfixable)
            if not actions:
                self.say("no command can fix the red lines left" if unfixable
                         else "no other command to offer: each fix offered has been tried")
                break
            refusal = self.refusal()
            if refusal:
                self.show_plan(actions)
                self.say(refusal)
                break
            ran = []
            for number, action in enumerate(actions, 1):
                tried.add(action.key)
                self.show(action, number, len(actions))
                if self.consents():
                    with self.uninterrupted():
                        self.fixes_run += 1
                        if self.apply(action):
                            ran.append((action, time.monotonic()))
                if self.interrupted:
                    return self.end_interrupted()
            if not ran:
                self.say("nothing was run")
                break
            self.wait_for(ran)
            self.check()
        return self.end()

    def refusal(self) -> str:
        """Why nothing may be run here ("" = it may)."""
        if self.command.dry_run:
            return "dry run: nothing was run"
        if not self.target.host_checks:
            return "this machine does not run the app (host_checks = false): nothing to run here"
        if in_ci() and self.target.kind == "production":
            return (f"the {self.target.name} environment is production, checked from CI: fix runs nothing there; run "
                    "it on the demo host")
        if not self.command.yes and not sys.stdin.isatty():
            return "no terminal to answer on and no --yes: nothing offered, nothing run"
        return ""

    def check(self) -> None:
        """Run the checks; the verdict they wrote, its report; the first NO-GO's time."""
        verdict_file = self.reports / "verdict.json"
        before = verdict_file.stat().st_mtime_ns if verdict_file.is_file() else None
        self.say("running the pre-demo checks ...")
        environ = {**os.environ, "SMOKE_REPORTS_DIR": str(self.reports)}
        self.code = exit_code(run_checks(["-m", "predemo", *pytest_args(self.command.for_pytest())], environ))
        try:
            if not verdict_file.is_file() or verdict_file.stat().st_mtime_ns == before:
                raise OSError("not written")
            text = verdict_file.read_text(encoding="utf-8")
            self.verdict = from_json(text)
            self.report = str(json.loads(text).get("about", {}).get("report", ""))
        except (OSError, ValueError, KeyError, TypeError):
            self.verdict = None
            self.say(f"no verdict written (the run broke before its end, exit code {self.code})")
            return
        if self.verdict.state == NO_GO and self.first_no_go is None:
            self.first_no_go = time.monotonic()
        self.say(self.verdict.headline())
        for outcome in self.verdict.outcomes:
            if outcome.red:
                self.say(f"  red: {outcome.label}: {first_line(outcome.message)}")

    def end(self) -> int:
        if self.verdict is not None:
            self.say(f"verdict: {self.verdict.headline()}")
            if self.first_no_go is not None:
                self.say(f"time from the first NO-GO to this verdict: {time.monotonic() - self.first_no_go:.1f} s")
            if self.report:
                self.say(f"report: {self.report}")
        self.say(f"log: {self.log_path}")
        return self.code

    def end_interrupted(self) -> int:
        self.say("interrupted: nothing more is run" + (
            "; the checks were not run again after the last fix, so the verdict below is from before it"
            if self.fixes_run else ""))
        self.end()
        return INTERRUPTED

    # -- what is shown ---------------------------------------------------------------------------

    def show(self, action: Action, number: int, count: int) -> None:
        self.say(f"[{number}/{count}] {action.outcome.label}: {first_line(action.fix)}")
        for step in action.fix.steps:
            self.say(f"      runs:    {step.shown()}")
            self.say(f"      touches: {step.touches}")
        wait = action.fix.wait
        if wait.port:
            self.say(f"      then waits for a listener on port {wait.port} (at most {PORT_WAIT:g} s)")
        if wait.seconds:
            self.say(f"      then waits {wait.seconds:g} s for it to settle")

    def show_plan(self, actions: list[Action]) -> None:
        for number, action in enumerate(actions, 1):
            self.show(action, number, len(actions))

    def list_unfixable(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        self.say("no command can fix these; nothing is attempted for them:")
        for outcome in outcomes:
            self.say(clip(f"  - {outcome.label}: {outcome.result or first_line(outcome.message)}", UNFIXABLE_WIDTH))
            for source in dict.fromkeys(s for data in outcome.fixes for s in data.get("sources", [])):
                self.say(f"      where: {where(self.target, source)}")

    # -- consent and commands --------------------------------------------------------------------

    def consents(self) -> bool:
        if self.command.yes:
            self.say("run it? yes (--yes)")
            return True
        try:
            answer = self.ask("run it? [y/N] ").strip().lower()
        except EOFError:
            answer = ""
        self.note(f"answer: {answer!r}")
        if answer in ("y", "yes"):
            return True
        self.say("not run")
        return False

    @contextmanager
    def uninterrupted(self):
        """A Ctrl-C while a fix runs lets the fix finish (nothing is left half done); then nothing more is run."""
        def later(signum, frame):
            if not self.interrupted:
                self.say("Ctrl-C: this fix is finished first, then nothing more is run")
            self.interrupted = True

        before = signal.signal(signal.SIGINT, later)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, before)

    def apply(self, action: Action) -> bool:
        """Run the fix's steps; False (and said) when one cannot run or fails. Nothing runs when a step's program
        is missing or a process to stop is no longer the one shown."""
        steps = action.fix.steps
        for step in steps:
            problem = cannot_run(step)
            if problem:
                self.say(f"not run: {problem}; nothing was changed")
                return False
        for index, step in enumerate(steps):
            problem = cannot_run(step)  # asked again right before: a process may have ended since
            code, output = (None, problem) if problem else self.execute(step)
            if code == 0 and step.pid and not ended(step):
                code, output = None, f"PID {step.pid} still runs {STOP_WAIT:g} s after it was told to stop"
            if code != 0:
                done = "; ".join(s.shown() for s in steps[:index])
                left = (f"done before it: {done} (the rest of this fix was not run)" if done
                        else "nothing was changed")
                self.say(f"failed: {step.shown()}: {output or f'exit code {code}'}; {left}")
                return False
        return True

    def execute(self, step: Step) -> tuple[int | None, str]:
        """Run one step to its end; its exit code and its output's last line."""
        argv = [shutil.which(step.argv[0]) or step.argv[0], *step.argv[1:]]
        self.note(f"run: {step.shown()}")
        group = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt" else \
            {"start_new_session": True}  # the console's Ctrl-C is ours to handle, not the step's
        try:
            child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     **group)
        except OSError as error:
            return None, f"cannot run it: {error.strerror or error}"
        try:
            output, _ = child.communicate(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
            output, _ = child.communicate()
            self.note(output.decode(errors="replace"))
            return None, f"did not finish within {STEP_TIMEOUT:g} s: stopped"
        text = output.decode(errors="replace")
        self.note(f"exit code {child.returncode}\n{text}")
        return child.returncode, first_line(text.strip().splitlines()[-1] if text.strip() else "")

    def wait_for(self, ran: list[tuple[Action, float]]) -> None:
        """A listener on each port a fix restarted; then each fix's settle time, counted from when it ran."""
        ports = sorted({action.fix.wait.port for action, _ in ran if action.fix.wait.port})
        for port in ports:
            self.say(f"waiting for a listener on port {port} ...")
            deadline = time.monotonic() + PORT_WAIT
            while not listens(port) and time.monotonic() < deadline:
                time.sleep(POLL)
        settled = max((at + action.fix.wait.seconds for action, at in ran), default=0.0)
        if settled > time.monotonic():
            self.say(f"waiting {settled - time.monotonic():.0f} s for it to settle ...")
            time.sleep(max(0.0, settled - time.monotonic()))

    # -- words -----------------------------------------------------------------------------------

    def say(self, line: str) -> None:
        print(line, flush=True)
        self.note(line)

    def note(self, text: str) -> None:
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"{datetime.now():%H:%M:%S} {text}\n")


def cannot_run(step: Step) -> str:
    """Why the step may not run now ("" = it may): its program is missing, or the process it stops is no longer
    the one shown (ended, or its PID taken by another: the start time differs), or the verdict file holds it
    redacted (a part that looked like a secret was masked: run as it is, it would do something else)."""
    if any(MASK in part for part in step.argv):
        return f"part of its command was redacted ({MASK}) in the verdict file, so it cannot be run as it is"
    if shutil.which(step.argv[0]) is None:
        return f"{step.argv[0]!r} is not found on this machine"
    if not step.pid:
        return ""
    import psutil  # only a fix that stops a process needs it

    if not step.created:
        return f"the start time of PID {step.pid} could not be read when it was shown, so it cannot be known again"
    try:
        created = psutil.Process(step.pid).create_time()
    except psutil.NoSuchProcess:
        return f"PID {step.pid} has ended since it was shown"
    except psutil.Error as error:
        return f"PID {step.pid} cannot be read: {error}"
    if abs(created - step.created) > 0.01:
        return f"PID {step.pid} is another process than the one shown (it started at another time)"
    return ""


def ended(step: Step) -> bool:
    """The process the step stopped is gone (its port free for what starts next), within STOP_WAIT."""
    import psutil

    deadline = time.monotonic() + STOP_WAIT
    while time.monotonic() < deadline:
        try:
            process = psutil.Process(step.pid)
            if process.status() == psutil.STATUS_ZOMBIE or abs(process.create_time() - step.created) > 0.01:
                return True  # a zombie holds no port; another start time is another process
        except psutil.NoSuchProcess:
            return True
        time.sleep(POLL)
    return False


def where(target: Target, source: str) -> str:
    """Where the app's code holds ``source``: file and line in the checkout, or what to set to be told."""
    from .probes.source import places

    if ":" in source and not source.startswith(("http:", "https:")) and source.rsplit(":", 1)[1].isdigit():
        return source  # a place already (a stack line from the app's log)
    checkout = target.app_config.checkout
    if not checkout:
        return f"{source!r} in the app's code (set app_config.checkout to its folder to be told the file and line)"
    if not Path(checkout).is_dir():
        return f"{source!r} in the app's code (app_config.checkout {checkout} is not a folder)"
    if source.startswith("/"):  # an API route that failed: where the backend mounts it
        parts = source.rstrip("/").split("/")
        for end in range(len(parts), 2, -1):
            found = [place for place in places(checkout, "/".join(parts[:end]), ("backend",)) if "backend" in place]
            if found:
                return f"{', '.join(found[:3])} ({'/'.join(parts[:end])!r}, where the backend serves it)"
        return f"{source!r}: the route is not found in {checkout}; the backend's log names the failing line"
    found = places(checkout, source, (target.paths.story_page.strip("/"), "frontend"))
    return f"{', '.join(found[:3])} ({source!r})" if found else f"{source!r} is not found in {checkout}"


def listens(port: int) -> bool:
    from .probes.ports import LOCALHOST_ADDRESSES, dial  # only a fix that waits for a port needs it

    return any(dial(host, port, POLL).accepted for host in LOCALHOST_ADDRESSES)


def first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


