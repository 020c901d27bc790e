"""The arguments of care2-predemo and its subcommands (watch, fix), read in one place, and the exit codes they all give.

Ours are read here (argparse); every other argument goes on to pytest as it was given, with --env, --env-file,
--reports-dir and -m given back as one word each (two words would make pytest take a path for a test path).
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from .target import chosen_environment, chosen_environment_file

NAME = "care2-predemo"
SUBCOMMANDS = ("watch", "fix")
GO, NO_GO, INTERRUPTED, BAD_INPUT = 0, 1, 2, 4  # the README's exit codes (GO covers GO WITH WARNINGS)
# pytest's exit codes -> the README's: an internal error judged nothing (COULD NOT CHECK), and a selection that
# matches no check is bad input.
EXIT_CODES = {pytest.ExitCode.OK: GO, pytest.ExitCode.TESTS_FAILED: NO_GO, pytest.ExitCode.INTERRUPTED: INTERRUPTED,
              pytest.ExitCode.INTERNAL_ERROR: NO_GO, pytest.ExitCode.USAGE_ERROR: BAD_INPUT,
              pytest.ExitCode.NO_TESTS_COLLECTED: BAD_INPUT}
DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h)?$")
UNITS = {"s": 1, "m": 60, "h": 3600, None: 1}


def exit_code(pytest_code: int) -> int:
    """A pytest run's exit code as care2-predemo gives it."""
    return EXIT_CODES.get(pytest_code, NO_GO)


class BadInput(Exception):
    """One line for the person who typed the command (not a ValueError: argparse would put its own words on it)."""


@dataclass
class Command:
    """What was asked: the subcommand ("" = one run of the checks), its options, and pytest's arguments."""

    subcommand: str = ""
    help: bool = False
    open_report: bool = False
    env: str | None = None
    env_file: str | None = None
    reports_dir: str | None = None
    marks: str | None = None  # the run's -m, when given
    fallback: str | None = None  # the environment to check as the fallback beside this one (--fallback)
    every: float = 300.0  # watch
    walk_every: float = 900.0
    until: datetime | None = None
    runs: int | None = None
    yes: bool = False  # fix
    dry_run: bool = False
    pytest_args: list[str] = field(default_factory=list)

    @property
    def environment(self) -> str:
        return chosen_environment(self.env)

    @property
    def environment_file(self) -> str | None:
        return chosen_environment_file(self.env_file)

    @property
    def reports(self) -> Path:
        """Where the runs write their reports (and watch and fix read the verdict)."""
        return Path(self.reports_dir or os.environ.get("SMOKE_REPORTS_DIR") or "reports").resolve()

    @property
    def walks(self) -> bool:
        """The run's marks leave the browser walk in."""
        return self.marks is None or "not browser" not in self.marks

    def for_pytest(self, marks: str | None = None, env: str | None = None) -> list[str]:
        """The arguments for pytest: pytest's own, and ours that pytest reads too, one word each."""
        ours = {"--env": env or self.env, "--env-file": self.env_file, "--reports-dir": self.reports_dir}
        given = [f"{name}={value}" for name, value in ours.items() if value]
        marks = marks or self.marks
        return [*(["-m", marks] if marks else []), *given, *self.pytest_args]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise BadInput(message)


def parse(argv: list[str], now: datetime | None = None) -> Command:
    """``argv`` after the program's name; BadInput for a value that cannot be right."""
    subcommand = argv[0] if argv[:1] and argv[0] in SUBCOMMANDS else ""
    parser = _Parser(prog=f"{NAME} {subcommand}".strip(), add_help=False, allow_abbrev=False)
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("--env")
    parser.add_argument("--env-file")
    parser.add_argument("--reports-dir")
    parser.add_argument("-m", dest="marks")
    if subcommand == "":
        parser.add_argument("--open", dest="open_report", action="store_true")
        parser.add_argument("--fallback")
    if subcommand == "watch":
        parser.add_argument("--every", type=_duration("--every"), default=300.0)
        parser.add_argument("--walk-every", type=_duration("--walk-every"), default=900.0)
        parser.add_argument("--until", type=lambda text: clock_time(text, now or datetime.now().astimezone()))
        parser.add_argument("--runs", type=count)
    if subcommand == "fix":
        parser.add_argument("--yes", action="store_true")
        parser.add_argument("--dry-run", action="store_true")
    known, rest = parser.parse_known_args(argv[1:] if subcommand else argv)
    return Command(subcommand=subcommand, pytest_args=rest, **vars(known))


def duration(text: str, name: str) -> float:
    """``30s``, ``5m``, ``1h`` or plain seconds."""
    match = DURATION.match(text.strip().lower())
    if not match:
        raise BadInput(f"{name} {text!r}: say how long as 30s, 5m or 1h")
    return float(match.group(1)) * UNITS[match.group(2)]


def _duration(name: str):
    return lambda text: duration(text, name)


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
