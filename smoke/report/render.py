"""The top of the presenter's page (banner, checklist) and pytest-html's extra cells, from the templates.

Static HTML (readable even where scripts do not run), made by smoke/report/templates/top.html.jinja
with report.css inlined. This module only chooses what to show; the templates say how.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import Markup

from .. import history
from ..redact import Redactor
from ..text import duration
from ..verdict import COULD_NOT_CHECK, GO, GO_WITH_WARNINGS, NO_GO, Outcome, Verdict, names
from .files import shown_path
from .jinja import macro, render
from .pictures import Screenshot, within_budget
from .records import CheckRecord, RequestRow, state_word, step_label

if TYPE_CHECKING:
    from .collect import PresenterReport

VERDICT_CLASS = {GO: "go", GO_WITH_WARNINGS: "warn", NO_GO: "nogo", COULD_NOT_CHECK: "unknown"}
ROW_CLASS = {"OK": "ok", "WARNING": "warn", "FAILED": "fail", "ERROR": "fail", "SKIPPED": "skip", "NOT RUN": "skip"}


def page_top(run: PresenterReport) -> Markup:
    verdict = run.verdict
    rows = [_row(run, record) for record in run.ordered() if record.ran]
    rows += [_row(run, CheckRecord(outcome, "", 0, ran=True)) for outcome in run.unloaded]
    beside = run.files.page.with_name(history.PAGE_NAME)  # made by python -m smoke.history, or the watch
    incident = run.incident.name if run.incident else ""
    return Markup(render("top.html.jinja", watch=_watching(run), banner=_banner(run, verdict), rows=rows,
                         missing=run.missing_lines(), history_page=beside.name if beside.is_file() else "",
                         incident=incident))


def engineers_heading() -> Markup:
    return macro("cells.html.jinja", "engineers_heading")()


def checklist_header_cell() -> Markup:
    return macro("cells.html.jinja", "checklist_header")()


def checklist_cell(outcome: Outcome | None) -> Markup:
    """The check's checklist line in pytest-html's results table."""
    return macro("cells.html.jinja", "checklist_cell")(step_label(outcome) if outcome else "")


# ---------------------------------------------------------------------------------------------------
# What the templates show


@dataclass
class WatchBanner:
    """The line atop the page under `care2-predemo watch`: when this run ended, when the next is due."""

    ended: str
    every: str  # seconds between runs
    every_ms: int
    until: str  # when the demo starts (ISO 8601), or ""


def _watching(run: PresenterReport) -> WatchBanner | None:
    """Under `care2-predemo watch`: when this run ended, and a page that reloads itself for the next one."""
    try:
        every = float(os.environ.get(history.WATCH_EVERY, ""))
    except ValueError:
        return None
    finished = run.finished or datetime.now().astimezone()
    return WatchBanner(f"{finished:%H:%M:%S}", f"{every:g}", int(every * 1000), os.environ.get(history.WATCH_UNTIL, ""))


@dataclass
class Banner:
    state: str
    css: str
    say: str
    counts: list[tuple[str, int, str]]  # (kind, number, words) of each count that is not zero
    facts: list[tuple[str, str]]


def _banner(run: PresenterReport, verdict: Verdict) -> Banner:
    outcomes = verdict.outcomes
    counts = [
        ("fail", sum(1 for outcome in outcomes if outcome.red), "failed"),
        ("warn", sum(1 for outcome in outcomes if outcome.shaky), "passed with warnings"),
        ("ok", sum(1 for outcome in outcomes if outcome.state == "passed" and not outcome.shaky), "passed"),
        ("skip", verdict.count("skipped"), "skipped"),
    ]
    target = run.target
    started = run.started
    facts = [
        ("Environment", f"{target.name} ({target.kind})"),
        ("Site", target.site_url),
        ("API", target.api_url),
        ("Checked", f"{started:%a %d %b %Y, %H:%M:%S} {started:%Z}, took {duration(run.seconds)}"),
        ("From", socket.gethostname()),
    ]
    said = _say(verdict, run.missing_lines()) + (f" {verdict.fallback_says()}." if verdict.fallback else "")
    return Banner(verdict.state, VERDICT_CLASS[verdict.state], run.redactor.text(said),
                  [count for count in counts if count[1]], [(name, run.redactor.text(value)) for name, value in facts])


def _say(verdict: Verdict, missing: list[str]) -> str:
    """The banner's sentence; a green one also names the checklist lines this run did not check."""
    red = names([outcome for outcome in verdict.outcomes if outcome.red])
    shaky = names([outcome for outcome in verdict.outcomes if outcome.shaky])
    unchecked = f" Not checked in this run: {', '.join(missing)}." if missing else ""
    return {
        GO: "Every pre-demo check passed. Go ahead." + unchecked,
        GO_WITH_WARNINGS: f"Every check passed, but look at {shaky} before you start." + unchecked,
        NO_GO: f"Do not start the demo until this is fixed: {red}. Each red line below says what to do.",
        COULD_NOT_CHECK: f"The checks could not judge the site: {verdict.reason}. This says nothing about "
                         "the demo either way: fix that, then run the check again.",
    }[verdict.state]


@dataclass
class Row:
    """One check's line in the checklist."""

    outcome: Outcome
    word: str  # OK, WARNING, FAILED, ...
    css: str
    time: str
    description: str  # "" when it says no more than the name
    said: list[tuple[str, str]]  # (kind, text): result, cause, detail, fix
    strip: list[tuple[str, str, str]] = field(default_factory=list)  # (colour, hover text, extra class)
    notes: list[str] = field(default_factory=list)
    shots: list[Shot] = field(default_factory=list)
    traces: list[Trace] = field(default_factory=list)
    requests: Requests | None = None


@dataclass
class Shot:
    uri: str
    caption: str
    big: bool


@dataclass
class Trace:
    href: str
    name: str
    shown: str


@dataclass
class Requests:
    count: int
    seconds: str  # on the network, the answers from the client's memo left out
    rows: list[list[str]]


def _row(run: PresenterReport, record: CheckRecord) -> Row:
    outcome = record.outcome
    word = state_word(outcome)
    if outcome.red or outcome.state == "skipped":
        said = _message(outcome)
    elif word == "NOT RUN":
        said = [("result", "Not checked: the run stopped before this check finished.")]
    else:
        said = [("result", outcome.result or "passed")]
    return Row(
        outcome, word, ROW_CLASS[word], duration(outcome.seconds),
        record.description if record.description != outcome.label else "", said,
        strip=_strip(run.runs, outcome) if run.runs else [],
        notes=[f"Warning: {line}" for line in outcome.warnings] + [f"Retried: {line}" for line in outcome.retried],
        shots=_screenshots(record.screenshots, outcome.red, run.redactor),
        traces=[_trace(run, path) for path in record.traces],
        requests=_requests(record.requests, run.redactor) if record.requests else None,
    )


def _strip(runs: list[history.Entry], outcome: Outcome) -> list[tuple[str, str, str]]:
    """The check in the runs before this one and in this one: one coloured cell each, oldest first."""
    cells = [(*history.cell(entry, outcome.label), "") for entry in runs]
    now = "fail" if outcome.red else "ok" if outcome.state == "passed" else "none"
    return [*cells, (now, f"this run: {outcome.state}", " c2-cell-now")]


def _message(outcome: Outcome) -> list[tuple[str, str]]:
    """A red check's cause, then what to do and the details (request, body); a skip's reason.

    One ``fix:`` goes right under the cause; several (one per problem) stay beside their problems.
    """
    lines = [line for line in outcome.message.strip().splitlines() if line.strip()]
    if outcome.state == "skipped":
        return [("result", f"Not checked: {' '.join(lines) or 'skipped'}")]
    cause, rest = (lines[0], lines[1:]) if lines else ("failed without a message", [])
    fixes = [line for line in rest if _fix(line) is not None]
    if len(fixes) == 1:
        rest = fixes + [line for line in rest if line not in fixes]
    said, details = [("cause", cause)], []
    for line in rest + [""]:
        fix = _fix(line)
        if (fix is not None or not line) and details:
            said.append(("detail", "\n".join(details)))
            details = []
        if fix is not None:
            said.append(("fix", fix))
        elif line:
            details.append(line.strip())
    return said


def _fix(line: str) -> str | None:
    """The advice of a ``fix: ...`` line of a check's message, else None."""
    stripped = line.strip()
    return stripped[len("fix:"):].strip() if stripped.startswith("fix:") else None


def _screenshots(shots: list[Screenshot], stopped: bool, redactor: Redactor) -> list[Shot]:
    """Step by step; a failed walk shows where it stopped, large."""
    shots = within_budget(shots)
    shown = []
    for number, shot in enumerate(shots, 1):
        last = stopped and number == len(shots)
        shown.append(Shot(shot.uri(), redactor.text(("Where it stopped: " if last else "") + shot.caption), last))
    return shown


def _trace(run: PresenterReport, path: Path) -> Trace:
    page = run.files.page
    href = os.path.relpath(path, page.parent) if path.drive == page.drive else path.as_uri()
    return Trace(Path(href).as_posix(), path.name, shown_path(path, run.config))


def _requests(listed: list[RequestRow], redactor: Redactor) -> Requests:
    rows = []
    for request in listed:
        answer = request.answer + (" (same answer as earlier in this run)" if request.reused else "")
        rows.append([f"{redactor.text(request.method)} {redactor.text(request.url)}", redactor.text(answer),
                     _ms(request.total_ms), _ms(request.connect_ms), _ms(request.tls_ms),
                     _ms(request.first_byte_ms), str(request.attempts)])
    asked = [request for request in listed if not request.reused]
    total = sum(request.total_ms for request in asked) / 1000
    return Requests(len(listed), duration(total), rows)


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"
