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

exit codes: the last run's, as care2-predemo gives them (0 GO or GO WITH WARNINGS, 1 NO-GO or COULD NOT CHECK),
2 interrupted, 4 bad input
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path

from . import alerts
from .arguments import BAD_INPUT, INTERRUPTED, Command, exit_code
from .history import FILE_NAME, PAGE_NAME, WATCH_EVERY, WATCH_UNTIL, write_page
from .installed import pytest_args
from .runs import run_checks
from .target import Target
from .text import os_problem
from .verdict import from_json


def main(command: Command, target: Target) -> int:
    try:  # the runs write where the watch reads: told explicitly, whatever folder pytest takes for the project's
        return WatchLoop(command, target, command.reports).run()
    except KeyboardInterrupt:  # between runs (a run itself is stopped in WatchLoop.run)
        print(f"{_now()} interrupted: the watch ends", flush=True)
        return INTERRUPTED


class WatchLoop:
    """`care2-predemo watch`: the checks run again and again until the demo, alerting on a change."""

    def __init__(self, plan: Command, target: Target, reports: Path):
        self.plan, self.target, self.reports = plan, target, reports
        self.user_marks = plan.marks is not None
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
                pytest_code = self.one_run(walks)
            except KeyboardInterrupt:
                print(f"{_now()} run {number}: interrupted; the watch ends", flush=True)
                return INTERRUPTED
            code = exit_code(pytest_code)
            if code == BAD_INPUT:  # the same arguments will not work the next time either
                print(f"{_now()} run {number}: pytest refused the arguments or they select no check (exit code "
                      f"{pytest_code}); run `care2-predemo {' '.join(self.plan.for_pytest())}` once to see why. "
                      "The watch ends", flush=True)
                return BAD_INPUT
            if walks:
                last_walk = started
            if verdict_file.is_file() and verdict_file.stat().st_mtime_ns != before:
                self.tell(number, walks)
            else:
                print(f"{_now()} run {number}: no verdict written (the run broke before its end, exit code "
                      f"{pytest_code})", flush=True)
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
        marks = None if self.user_marks else "predemo" if walks else "predemo and not browser"
        environ = {**os.environ, WATCH_EVERY: str(self.plan.every), "SMOKE_REPORTS_DIR": str(self.reports)}
        if self.plan.until is not None:
            environ[WATCH_UNTIL] = self.plan.until.isoformat(timespec="seconds")
        return run_checks(pytest_args(self.plan.for_pytest(marks)), environ)

    def tell(self, number: int, walked: bool) -> None:
        """One line for the run; an alert when the verdict changed."""
        try:  # written by this run (WatchLoop.run checks)
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


def _now() -> str:
    return datetime.now().strftime("%H:%M:%S")
