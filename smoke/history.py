"""The runs before this one: one line per run in ``reports/history.jsonl``, bounded in age and length.

    python -m smoke.history reports/history.jsonl reports/history.html   # the runs as a page (CI publishes it)

A GO thirty minutes before a demo says nothing about minute twenty-nine: a check that was red in a
recent run of the same target is a warning now ("flapped: red at 13:05 and 13:20"), even when green.

>>> entry = Entry("2026-12-03T13:05:00+00:00", "local", "http://localhost:3000", "http://localhost:3001",
...               "NO-GO", {"API health": ("failed", "API health: no answer")})
>>> entry.red("API health"), entry.clock
(True, '13:05')
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from .verdict import Outcome, Verdict

FILE_NAME = "history.jsonl"
# What `care2-predemo watch` tells each of its runs, so that latest.html reloads itself and counts down.
WATCH_EVERY, WATCH_UNTIL = "SMOKE_WATCH_EVERY", "SMOKE_WATCH_UNTIL"


@dataclass(frozen=True)
class Entry:
    """One run: when, of what target, its verdict, and each check's state and one-line message."""

    time: str  # ISO 8601 with the offset
    environment: str
    site_url: str
    api_url: str
    state: str
    checks: dict[str, tuple[str, str]] = field(default_factory=dict)  # checklist line -> (state, line)

    @classmethod
    def of(cls, verdict: Verdict, about: dict, when: datetime) -> Entry:
        checks: dict[str, tuple[str, str]] = {}
        for outcome in verdict.outcomes:  # Ports has two checks: the line is red when either is
            if outcome.state in ("passed", "failed", "error"):
                state, line = checks.get(outcome.label, ("passed", ""))
                checks[outcome.label] = ("failed", line or _line(outcome)) if outcome.red else (state, line)
        return cls(when.isoformat(timespec="seconds"), str(about.get("environment", "")),
                   str(about.get("site_url", "")), str(about.get("api_url", "")), verdict.state, checks)

    @property
    def when(self) -> datetime:
        return datetime.fromisoformat(self.time)

    @property
    def clock(self) -> str:
        return self.when.astimezone().strftime("%H:%M")

    def red(self, check: str) -> bool:
        return self.checks.get(check, ("", ""))[0] == "failed"

    def same_target(self, other: Entry) -> bool:
        return (self.environment, self.site_url, self.api_url) == (other.environment, other.site_url, other.api_url)


def read(path: Path) -> list[Entry]:
    """The runs in ``path``, oldest first; a line that is not one (a run cut off while writing) is skipped.
    A file that cannot be read has none (writing it then says why)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    entries = []
    for line in lines:
        try:
            data = json.loads(line)
            data["checks"] = {name: tuple(value) for name, value in data.get("checks", {}).items()}
            entries.append(Entry(**data))
        except (ValueError, TypeError, AttributeError):
            continue
    return entries


def append(path: Path, entry: Entry, max_age: float, max_runs: int, scrub=lambda text: text) -> None:
    """Add ``entry`` (its line through ``scrub``: the report's redaction); drop the runs older than ``max_age``
    seconds and all but the last ``max_runs``."""
    oldest = entry.when - timedelta(seconds=max_age)
    kept = [old for old in read(path) if old.when >= oldest][-(max_runs - 1):]
    lines = [json.dumps(asdict(old), ensure_ascii=False) for old in kept]
    lines.append(scrub(json.dumps(asdict(entry), ensure_ascii=False)))
    text = "".join(line + "\n" for line in lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_whole(path, text)


def replace_whole(path: Path, text: str) -> None:
    """Write ``path`` through a partial file, so that a reader never sees half of it. An OSError names ``path``."""
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise OSError(error.errno, error.strerror, str(path)) from None


def earlier(entries: Iterable[Entry], now: Entry, window: float) -> list[Entry]:
    """The runs of ``now``'s target in the ``window`` seconds before it, oldest first."""
    start = now.when - timedelta(seconds=window)
    return [entry for entry in entries if entry.same_target(now) and start <= entry.when < now.when]


def flapped(check: str, before: list[Entry]) -> str:
    """"flapped: red at 13:05 and 13:20" when ``check`` was red in any of ``before``; "" otherwise."""
    times = list(dict.fromkeys(entry.clock for entry in before if entry.red(check)))
    if not times:
        return ""
    listed = times[0] if len(times) == 1 else ", ".join(times[:-1]) + f" and {times[-1]}"
    return f"flapped: red at {listed} (green now; watch it)"


def mark_flapped(outcomes: list[Outcome], before: list[Entry]) -> None:
    """Warn on the first passing check of each line that is green now and was red in ``before``. A line red
    now says so itself: of Ports' two checks, the one that passes may never have been the red one."""
    red_now = {outcome.label for outcome in outcomes if outcome.red}
    warned = set()
    for outcome in outcomes:
        if outcome.state == "passed" and outcome.label not in red_now | warned:
            if said := flapped(outcome.label, before):
                outcome.warnings.append(said)
                warned.add(outcome.label)


def _line(outcome: Outcome) -> str:
    text = outcome.message.strip()
    return text.splitlines()[0][:200] if text else outcome.state


def cell(entry: Entry, check: str) -> tuple[str, str]:
    """(colour word, hover text) of ``check`` in the run ``entry``: ok, fail, or none when it did not run."""
    state, line = entry.checks.get(check, ("not run", ""))
    word = {"passed": "ok", "failed": "fail"}.get(state, "none")
    return word, f"{entry.clock} {entry.state}: {check} {state}" + (f": {line}" if line else "")


VERDICT_COLOURS = {"GO": "ok", "GO WITH WARNINGS": "warn", "NO-GO": "fail"}


def page(entries: list[Entry]) -> str:
    """The runs of each target as one self-contained page: per check, a row of cells, oldest first."""
    from .report.jinja import render  # Jinja2 and the report's templates: only when a page is made

    targets = []
    for target in dict.fromkeys((e.environment, e.site_url, e.api_url) for e in entries):
        runs = [e for e in entries if (e.environment, e.site_url, e.api_url) == target]
        checks = list(dict.fromkeys(name for e in runs for name in e.checks))
        targets.append({"environment": target[0], "site_url": target[1], "runs": runs,
                        "verdicts": [(VERDICT_COLOURS.get(e.state, "none"), f"{e.time} {e.state}") for e in runs],
                        "checks": [(name, [cell(e, name) for e in runs]) for name in checks]})
    return render("history.html.jinja", targets=targets)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smoke.history", description="the runs as a page")
    parser.add_argument("history", type=Path, help="reports/history.jsonl")
    parser.add_argument("page", type=Path, help="the page to write, e.g. reports/history.html")
    args = parser.parse_args(argv)
    args.page.write_text(page(read(args.history)), encoding="utf-8")
    print(f"{args.page}: {len(read(args.history))} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
