"""The runs before this one: one line per run in ``reports/history.jsonl``, bounded in age and length.

    python -m smoke.history reports/history.jsonl reports/history.html   # the runs as a page (CI publishes it)

A GO thirty minutes before a demo says nothing about minute twenty-nine: a check that was red in a
recent run of the same target is a warning now ("flapped: red at 13:05 and 13:20"), even when green.
Each line also keeps how long each check's main request took (the walk: each step), with its budget,
so that the page shows per check its uptime, its response times against the budget, and the incidents.

>>> entry = Entry("2026-12-03T13:05:00+00:00", "local", "http://localhost:3000", "http://localhost:3001",
...               "NO-GO", {"API health": ("failed", "API health: no answer")})
>>> entry.red("API health"), entry.clock
(True, '13:05')
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path

from . import charts
from .text import duration
from .verdict import GO, GO_WITH_WARNINGS, NO_GO, Outcome, Verdict

FILE_NAME = "history.jsonl"
PAGE_NAME = "history.html"  # the page, beside the reports: the run report's strips link to it when it is there
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
    # checklist line -> {request or walk step: [seconds, budget or None]}; older lines have none
    times: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)

    @classmethod
    def of(cls, verdict: Verdict, about: dict, when: datetime) -> Entry:
        checks: dict[str, tuple[str, str]] = {}
        times: dict[str, dict[str, list[float | None]]] = {}
        for outcome in verdict.outcomes:  # Ports has two checks: the line is red when either is
            if outcome.state in ("passed", "failed", "error"):
                state, line = checks.get(outcome.label, ("passed", ""))
                checks[outcome.label] = ("failed", line or _line(outcome)) if outcome.red else (state, line)
                if outcome.timings and outcome.label not in times:
                    times[outcome.label] = {what: list(took) for what, took in outcome.timings.items()}
        return cls(when.isoformat(timespec="seconds"), str(about.get("environment", "")),
                   str(about.get("site_url", "")), str(about.get("api_url", "")), verdict.state, checks, times)

    @cached_property  # a page reads it for every check and window: parsed once
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
    word, line = cell_state(entry, check)
    state = entry.checks.get(check, ("not run",))[0]
    return word, f"{entry.clock} {entry.state}: {check} {state}" + (f": {line}" if line else "")


VERDICT_COLOURS = {"GO": "ok", "GO WITH WARNINGS": "warn", "NO-GO": "fail"}
WINDOWS = (("24 h", timedelta(hours=24)), ("7 days", timedelta(days=7)))
DEMO = "The demo (verdict)"  # the page's first card: runs that were not NO-GO
STRIP = 12  # the last runs each card shows as cells, as the report's strip does


@dataclass(frozen=True)
class Incident:
    """From a first NO-GO to the next GO: when, how long, which checks were red, the first red line."""

    start: datetime
    end: datetime | None  # the next GO; None while the last run is still NO-GO
    last: datetime  # the last NO-GO run of it
    checks: tuple[str, ...]
    message: str

    @property
    def seconds(self) -> float:
        return ((self.end or self.last) - self.start).total_seconds()


def incidents(runs: list[Entry]) -> list[Incident]:
    """The incidents of one target's runs, oldest first. A COULD NOT CHECK run neither starts nor ends one."""
    found, opened = [], None
    for run in runs:
        if run.state == NO_GO:
            red = [name for name, (state, _) in run.checks.items() if state == "failed"]
            if opened is None:
                opened = Incident(run.when, None, run.when, tuple(red), run.checks[red[0]][1] if red else run.state)
            else:
                opened = replace(opened, last=run.when, checks=tuple(dict.fromkeys(opened.checks + tuple(red))))
        elif run.state in (GO, GO_WITH_WARNINGS) and opened is not None:
            found.append(replace(opened, end=run.when))
            opened = None
    return found + ([opened] if opened else [])


def uptime(runs: list[Entry], check: str, since: datetime) -> tuple[int, int]:
    """(runs up, runs judged) since ``since``: of a check, passed of passed or failed; of DEMO, not NO-GO of
    GO, GO WITH WARNINGS or NO-GO."""
    if check == DEMO:
        judged = [run.state != NO_GO for run in runs if run.when >= since and run.state in VERDICT_COLOURS]
    else:
        judged = [run.checks[check][0] == "passed" for run in runs
                  if run.when >= since and run.checks.get(check, ("",))[0] in ("passed", "failed")]
    return sum(judged), len(judged)


def percent(up: int, judged: int) -> str:
    """Rounded down: one red run in 2000 is 99.9 %, never 100 %."""
    return "–" if not judged else f"{math.floor(up * 1000 / judged) / 10:g} %"


@dataclass
class Card:
    """One check on the page: its uptime, its times against its budget, its runs as a bar."""

    name: str
    strip: list[tuple[str, str]]  # its last runs' cells: (colour word, hover text)
    uptime: list[tuple[str, str, str]]  # (window, "99.4 %", "712 of 716 runs")
    bar: list[charts.Stretch]
    chart: charts.Chart | None = None  # when the check's runs have times
    legend: list[tuple[str, str]] = field(default_factory=list)  # (series, its last time and own budget)
    said: str = ""


def card(name: str, runs: list[Entry], axis: charts.TimeAxis) -> Card:
    """``name``'s card over ``runs`` (one target's, oldest first); DEMO's is the verdict's."""
    last = runs[-1].when
    windows = [*((label, last - span) for label, span in WINDOWS), ("all", runs[0].when)]
    figures = [(label, percent(*counts), f"{counts[0]} of {counts[1]} runs")
               for label, since in windows for counts in [uptime(runs, name, since)]]
    if name == DEMO:
        marks = [(run.when, VERDICT_COLOURS.get(run.state, "none"), "") for run in runs]
        strip = [(VERDICT_COLOURS.get(run.state, "none"), f"{run.clock} {run.state}") for run in runs[-STRIP:]]
        return Card(name, strip, figures, charts.state_bar(axis, marks))
    ran = [run for run in runs if run.checks.get(name, ("",))[0] in ("passed", "failed")]
    marks = [(run.when, *cell_state(run, name)) for run in ran]
    shown = Card(name, [cell(run, name) for run in runs[-STRIP:]], figures, charts.state_bar(axis, marks))
    timed = [run for run in ran if name in run.times]
    if timed:
        series = list(dict.fromkeys(what for run in timed for what in run.times[name]))
        latest = timed[-1].times[name]
        budget = next((took[1] for took in latest.values() if took[1] is not None), None)
        shown.chart = charts.response_chart(
            axis, {what: [(run.when, run.times.get(name, {}).get(what, [None])[0]) for run in ran]
                   for what in series}, budget)
        shown.legend = [(what, _legend(timed, name, what, budget)) for what in series]
        shown.said = (f"{series[0]}: " if len(series) > 1 else "") + _times_said(timed, name, series[0], budget, last)
    return shown


def cell_state(run: Entry, check: str) -> tuple[str, str]:
    """(colour word, red line or "") of ``check`` in ``run``."""
    state, line = run.checks.get(check, ("not run", ""))
    return {"passed": "ok", "failed": "fail"}.get(state, "none"), line if state == "failed" else ""


def _legend(timed: list[Entry], check: str, what: str, budget: float | None) -> str:
    """A line's last time, and its own budget where it is not the chart's (the walk's processing step)."""
    seconds, own = next(run.times[check][what] for run in reversed(timed) if what in run.times[check])
    return f"last {duration(seconds)}" + (f", budget {duration(own)}" if own is not None and own != budget else "")


def _times_said(timed: list[Entry], check: str, what: str, budget: float | None, last: datetime) -> str:
    """The last time, the median of the last 24 h, and how many runs of the last 7 days took longer than the budget."""
    times = [(run.when, run.times[check][what][0]) for run in timed if what in run.times[check]]
    day = [seconds for when, seconds in times if when >= last - WINDOWS[0][1]]
    said = [f"last {duration(times[-1][1])}"] if times else []
    if day:
        said.append(f"median of 24 h {duration(statistics.median(day))}")
    if budget is not None:
        over = sum(1 for when, seconds in times if when >= last - WINDOWS[1][1] and seconds > budget)
        said.append(f"{over} run{'s' if over != 1 else ''} over the {duration(budget)} budget in 7 days")
    else:
        said.append("no time budget")
    return "; ".join(said)


def page(entries: list[Entry]) -> str:
    """The runs of each target as one self-contained page: uptime, response times, incidents, per check."""
    from .report.jinja import render  # Jinja2 and the report's templates: only when a page is made

    targets = []
    for target in dict.fromkeys((e.environment, e.site_url, e.api_url) for e in entries):
        runs = [e for e in entries if (e.environment, e.site_url, e.api_url) == target]
        last = runs[-1]
        zone = last.when.tzinfo
        axis = charts.TimeAxis.over([run.when for run in runs])
        names = list(dict.fromkeys(name for run in runs for name in run.checks))
        span = f"from {runs[0].when.astimezone(zone):%a %d %b %H:%M} to {last.when:%a %d %b %H:%M}"
        targets.append({"environment": target[0], "site_url": target[1], "runs": len(runs), "span": span,
                        "zone": last.when.strftime("%Z") or "UTC", "state": last.state,
                        "cards": [card(name, runs, axis) for name in [DEMO, *names]],
                        "incidents": [_shown(incident, zone) for incident in reversed(incidents(runs))],
                        "ticks": axis.ticks()})
    return render("history.html.jinja", targets=targets, layout=charts)


def _shown(incident: Incident, zone) -> dict[str, str]:
    began, lasted = f"{incident.start.astimezone(zone):%a %d %b %H:%M}", duration(incident.seconds)
    return {"when": f"{began} to {incident.end.astimezone(zone):%a %H:%M}" if incident.end else began,
            "lasted": lasted if incident.end else f"{lasted} so far (still NO-GO at the last run)",
            "checks": ", ".join(incident.checks), "message": incident.message, "open": incident.end is None}


def write_page(history: Path, page_path: Path) -> int:
    """Render the runs in ``history`` into ``page_path``; the number of runs."""
    entries = read(history)
    page_path.parent.mkdir(parents=True, exist_ok=True)
    page_path.write_text(page(entries), encoding="utf-8")
    return len(entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smoke.history", description="the runs as a page")
    parser.add_argument("history", type=Path, help="reports/history.jsonl")
    parser.add_argument("page", type=Path, help="the page to write, e.g. reports/history.html")
    args = parser.parse_args(argv)
    try:
        print(f"{args.page}: {write_page(args.history, args.page)} runs")
    except OSError as error:
        print(f"python -m smoke.history: cannot write {args.page}: {error.strerror or error}", file=sys.stderr)
        return 4  # the README's exit code for bad input
    return 0


if __name__ == "__main__":
    sys.exit(main())
