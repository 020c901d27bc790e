"""What the report knows about each check: its checklist line, its outcome, its requests and pictures.

Plain records and the words taken from pytest's reports (the cause of a failure, a skip's reason);
smoke.report.collect fills them in as the checks run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..checklist import CHECKLIST, UNLISTED, step_named
from ..probes.http import Answer, NoAnswer
from ..verdict import Outcome
from .pictures import Screenshot

STEP_PREFIX = re.compile(r"^\s*\((\d+)\)\s*")


@dataclass(frozen=True)
class RequestRow:
    """One HTTP request a check made, as the report lists it."""

    method: str
    url: str
    answer: str  # "200" or why there was none
    total_ms: float
    connect_ms: float | None = None
    tls_ms: float | None = None
    first_byte_ms: float | None = None
    attempts: int = 1
    reused: bool = False  # the Client answered from its memo: same answer as an earlier request

    @classmethod
    def of(cls, outcome: Answer | NoAnswer, reused: bool) -> RequestRow:
        if isinstance(outcome, NoAnswer):
            return cls(outcome.method, outcome.url, outcome.reason, outcome.seconds * 1000,
                       attempts=outcome.attempts, reused=reused)
        timings = outcome.timings
        return cls(outcome.method, outcome.url, str(outcome.status), timings.total_ms, timings.connect_ms,
                   timings.tls_ms, timings.first_byte_ms, outcome.attempts, reused)


class HttpLog:
    """The requests of the running check, as the run's ``http`` client tells its observers."""

    def __init__(self):
        self.current: list[RequestRow] | None = None

    def note(self, outcome: Answer | NoAnswer, reused: bool) -> None:
        if self.current is not None:
            self.current.append(RequestRow.of(outcome, reused))


@dataclass
class CheckRecord:
    """Everything the report shows for one check; ``outcome`` is what the verdict is decided on."""

    outcome: Outcome
    description: str  # the docstring's line after the checklist name
    order: int  # position in collection
    ran: bool = False
    failed_tries: list[str] = field(default_factory=list)  # first line of each try before a rerun
    requests: list[RequestRow] = field(default_factory=list)
    screenshots: list[Screenshot] = field(default_factory=list)
    traces: list[Path] = field(default_factory=list)

    @classmethod
    def of(cls, item: pytest.Item, order: int) -> CheckRecord:
        """Its checklist line from its docstring: "(3) API health: ..." or "API health: ..."."""
        doc = getattr(getattr(item, "obj", None), "__doc__", None) or ""
        first = doc.strip().splitlines()[0].strip() if doc.strip() else item.name
        numbered = STEP_PREFIX.match(first)
        title = first[numbered.end():] if numbered else first
        head, colon, rest = title.partition(":")
        head = head.strip()
        step = int(numbered.group(1)) if numbered else step_named(head)
        name = CHECKLIST.get(step) or (head if colon and len(head) <= 40 else title)
        description = rest.strip() if colon and head.lower() == name.lower() else title
        return cls(Outcome(item.nodeid, title, "not run", step=step, name=name), description, order)

    @property
    def sort_key(self) -> tuple[int, int]:
        return (self.outcome.step or UNLISTED, self.order)


# ---------------------------------------------------------------------------------------------------
# Words


def cause(report) -> str:
    """What went wrong, in the check's own words; for an unexpected exception, its one-line summary."""
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple):
        return longrepr[2]
    crash = getattr(longrepr, "reprcrash", None)
    style = getattr(getattr(longrepr, "reprtraceback", None), "style", "value")
    if crash is None or style == "value":  # pytest.fail(..., pytrace=False): the message is all there is
        return report.longreprtext.strip()
    message = crash.message.removeprefix("Failed: ")
    if message != crash.message:  # pytest.fail with a traceback (e.g. pytest-timeout): still its words
        return message
    return (f"the check stopped on an error: {message}\n"
            "  fix: ask an engineer: the full log at the end of this report shows where")


def skip_reason(report) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr or "")
    return reason.removeprefix("Skipped: ")


def first_lines(text: str, count: int) -> str:
    return "\n".join([line for line in text.strip().splitlines() if line.strip()][:count])


def step_label(outcome: Outcome) -> str:
    return f"({outcome.step}) {outcome.label}" if outcome.step else outcome.label


def state_word(outcome: Outcome) -> str:
    if outcome.shaky:
        return "WARNING"
    return {"passed": "OK", "failed": "FAILED", "error": "ERROR", "skipped": "SKIPPED"}.get(outcome.state, "NOT RUN")


def missing_lines(records: dict[str, CheckRecord]) -> list[str]:
    """The checklist lines no check of this run stood for."""
    present = {record.outcome.step for record in records.values() if record.ran}
    return [name for step, name in CHECKLIST.items() if step not in present]
