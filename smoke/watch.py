"""care2-predemo watch: the pre-demo set again and again until the demo starts.

usage: care2-predemo watch [--every 5m] [--walk-every 15m] [--until HH:MM] [--runs N] [PYTEST ARGS...]

Cheap between, thorough on schedule: the HTTP and host checks every --every, the browser walk too every
--walk-every. A run never overlaps the next. Every run appends to reports/history.jsonl, which the watch
renders as reports/history.html; reports/latest.html reloads itself, counts down to --until and links to
the history, for a second screen. People are alerted on a change only
(GO to NO-GO and back: SMOKE_ALERT_URLS, the same state file as the CI alerts), with the report attached
where the service takes attachments. One line per run; Ctrl-C ends the current run and the watch.

  --every D       time from the start of one run to the start of the next (30s, 5m, 1h; default 5m)
  --walk-every D  how often a run includes the browser walk (default 15m; the first run always does)
  --until HH:MM   stop at the demo's start (today, or tomorrow if that time has passed)
  --runs N        stop after N runs

exit codes: those of the last run (0 GO or GO WITH WARNINGS, 1 NO-GO or COULD NOT CHECK), 2 interrupted,
4 bad input
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from . import alerts
from .history import FILE_NAME, PAGE_NAME, WATCH_EVERY, WATCH_UNTIL, write_page
from .installed import pytest_args
from .target import Target, TargetError, load_target
from .text import os_problem
from .verdict import from_json

DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h)?$")
UNITS = {"s": 1, "m": 60, "h": 3600, None: 1}
BAD_INPUT = 4  # the README's exit code for bad input
REFUSED = (4, 5)  # pytest's usage error, and a selection of no test
STOP_GRACE = 60.0  # seconds an interrupted run gets to write its report before it is ended


class BadInput(ValueError):
    """One line for the person who typed the command."""


@dataclass
class Plan:
    every: float = 300.0
    walk_every: float = 900.0
    until: datetime | None = None
    runs: int | None = None
    pytest_args: tuple[str, ...] = ()

    @classmethod
    def parse(cls, args: list[str], now: datetime) -> Plan:
        plan, rest, index = cls(), [], 0
        while index < len(args):
            name, _, value = args[index].partition("=")
            if name in ("--every", "--walk-every", "--until", "--runs"):
                if not value:
                    if index + 1 >= len(args):
                        raise BadInput(f"{name} needs a value")
                    index += 1
                    value = args[index]
                if name == "--every":
                    plan.every = duration(value, name)
                elif name == "--walk-every":
                    plan.walk_every = duration(value, name)
                elif name == "--until":
                    plan.until = clock_time(value, now)
                else:
                    plan.runs = count(value)
            else:
                rest.append(args[index])
            index += 1
        plan.pytest_args = tuple(rest)
        return plan


def duration(text: str, name: str) -> float:
    """``30s``, ``5m``, ``1h`` or plain seconds."""
    match = DURATION.match(text.strip().lower())
    if not match:
        raise BadInput(f"{name} {text!r}: say how long as 30s, 5m or 1h")
    return float(match.group(1)) * UNITS[match.group(2)]


def clock_time(text: str, now: datetime) -> datetime:
    """HH:MM today, or tomorrow when that time has passed."""
    try:
        hour, minute = (int(part) for part in text.split(":"))
        at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    except ValueError:
        raise BadInput(f"--until {text!r}: give the demo's start as HH:MM (24 h)") from None
    return at if at > now else at + timedelta(days=1)


def count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise BadInput(f"--runs {text!r}: give a whole number of runs, 1 or more")
    return int(text)


def main(args: list[str], target_of=load_target) -> int:
    from .cli import NAME, one_word, option  # the one command's own readers of pytest's options

    if "-h" in args or "--help" in args:
        print(__doc__.strip())
        return 0
    try:
        plan = Plan.parse(args, datetime.now().astimezone())
        target = target_of(option(list(plan.pytest_args), "--env", "SMOKE_ENV") or "local",
                           option(list(plan.pytest_args), "--env-file", "SMOKE_ENV_FILE"))
    except (BadInput, TargetError) as error:
        print(f"{NAME} watch: {error}", file=sys.stderr)
        return 4
    # the runs write where the watch reads: told explicitly, whatever folder pytest takes for the project's
    reports = Path(option(list(plan.pytest_args), "--reports-dir", "SMOKE_REPORTS_DIR") or "reports").resolve()
    user_marks = option(list(plan.pytest_args), "-m") is not None
    try:
        return Watch(plan, target, reports, one_word(list(plan.pytest_args)), user_marks).run()
    except KeyboardInterrupt:  # between runs (a run itself is stopped in Watch.run)
        print(f"{_now()} interrupted: the watch ends", flush=True)
        return 2


class Watch:
    def __init__(self, plan: Plan, target: Target, reports: Path, pytest_args: list[str], user_marks: bool):
        self.plan, self.target, self.reports = plan, target, reports
        self.pytest_args, self.user_marks = pytest_args, user_marks
        # alerts on a change: the first NO-GO is one, the first GO after it the other
        self.alerting = target.model_copy(update={"alerts": target.alerts.model_copy(update={"after_failures": 1})})
        self.alerts_off = alerts.urls_missing(os.environ)  # said once, after the first run, not after every NO-GO

    def run(self) -> int:
        number, code, last_walk = 0, 0, None
        self.history_page()  # there before the first run, so that its report links to it
        while True:
            number += 1
            started = time.monotonic()
            walks = last_walk is None or started - last_walk >= self.plan.walk_every
            verdict_file = self.reports / "verdict.json"
            before = verdict_file.stat().st_mtime_ns if verdict_file.is_file() else None
            try:
                code = self.one_run(walks)
            except KeyboardInterrupt:
                print(f"{_now()} run {number}: interrupted; the watch ends", flush=True)
                return 2
            if code in REFUSED:  # the same arguments will not work the next time either
                print(f"{_now()} run {number}: pytest refused the arguments or they select no check (exit code "
                      f"{code}); run `care2-predemo {' '.join(self.pytest_args)}` once to see why. The watch ends",
                      flush=True)
                return BAD_INPUT
            if walks:
                last_walk = started
            if verdict_file.is_file() and verdict_file.stat().st_mtime_ns != before:
                self.tell(number, walks)
            else:
                print(f"{_now()} run {number}: no verdict written (the run broke before its end, exit code {code})",
                      flush=True)
            if self.plan.runs is not None and number >= self.plan.runs:
                return code
            next_start = started + self.plan.every
            if self.plan.until is not None:
                left = (self.plan.until - datetime.now().astimezone()).total_seconds()
                if left <= 0:
                    print(f"{_now()} the demo starts now: the watch ends", flush=True)
                    return code
                next_start = min(next_start, time.monotonic() + left)
            time.sleep(max(0.0, next_start - time.monotonic()))

    def one_run(self, walks: bool) -> int:
        marks = [] if self.user_marks else ["-m", "predemo" if walks else "predemo and not browser"]
        environ = {**os.environ, WATCH_EVERY: str(self.plan.every), "SMOKE_REPORTS_DIR": str(self.reports)}
        if self.plan.until is not None:
            environ[WATCH_UNTIL] = self.plan.until.isoformat(timespec="seconds")
        # POSIX: the run in a group of its own, so that a Ctrl-C reaches it once, from the watch (twice, and
        # it would stop writing its report); a Windows console sends Ctrl-C to both, as it should.
        child = subprocess.Popen([sys.executable, "-m", "pytest", *marks, *pytest_args(self.pytest_args)], env=environ,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                 start_new_session=os.name != "nt")
        try:
            return child.wait()
        except KeyboardInterrupt:
            _stop(child)
            raise

    def tell(self, number: int, walked: bool) -> None:
        """One line for the run; an alert when the verdict changed."""
        try:  # written by this run (Watch.run checks)
            text = (self.reports / "verdict.json").read_text(encoding="utf-8")
            verdict = from_json(text)
            report = str(json.loads(text).get("about", {}).get("report", ""))
        except (OSError, ValueError, KeyError, TypeError):
            print(f"{_now()} run {number}: no verdict written (the run broke before its end)", flush=True)
            return
        walk = "" if self.user_marks else " (with the walk)" if walked else " (without the walk)"
        print(f"{_now()} run {number}{walk}: {verdict.headline()}", flush=True)
        if self.alerts_off:
            if number == 1:  # once, after the first run: arguments pytest refuses stay one line
                print(f"{_now()} alerts off (nobody is told when the verdict changes): {self.alerts_off}; then "
                      "start the watch again", flush=True)
        else:
            try:
                said = alerts.handle(verdict, self.alerting, os.environ, report, attach=report)[0]
            except OSError as error:
                said = f"not sent: the alert state cannot be kept: {os_problem(error)} (alerts.state_file)"
            if not said.startswith("none"):
                print(f"{_now()} alert: {said}", flush=True)
        self.history_page()

    def history_page(self) -> None:
        """reports/history.html: every run so far (uptime, response times, incidents); the live page links to it."""
        write_page(self.reports / FILE_NAME, self.reports / PAGE_NAME)


def _stop(child: subprocess.Popen) -> None:
    """Interrupt the run as Ctrl-C would, and give it time to write its report."""
    if os.name != "nt" and child.poll() is None:
        child.send_signal(signal.SIGINT)
    try:
        child.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _now() -> str:
    return datetime.now().strftime("%H:%M:%S")
