"""The terminal's end of a run of the checks: the checklist one line a check, then the verdict and the report."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ..keys import VERDICT_KEY
from ..text import clip
from ..verdict import GO, GO_WITH_WARNINGS, NO_GO, Outcome
from .files import shown_path
from .records import CheckRecord, first_lines, state_word


def checklist(terminalreporter, ordered: list[CheckRecord], unloaded: list[Outcome], missing: list[str]) -> None:
    terminalreporter.write_sep("-", "pre-demo checklist")
    width = max(shutil.get_terminal_size((120, 24)).columns, 80)
    for record in ordered:
        if record.ran:
            terminalreporter.write_line(row(record.outcome, width))
    for outcome in unloaded:
        terminalreporter.write_line(row(outcome, width))
    if missing:
        terminalreporter.write_line(f"    not in this run: {', '.join(missing)}")


def last_line(config: pytest.Config, page: Path, unwritten: str = "") -> None:
    """The very last line of the run: the verdict, and where the report is (or why it is not there)."""
    verdict = config.stash.get(VERDICT_KEY, None)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if verdict is None or reporter is None:
        return
    colour = {GO: "green", GO_WITH_WARNINGS: "yellow", NO_GO: "red"}.get(verdict.state, "purple")
    reporter.write_line(verdict.headline(verdict.tally()), **{colour: True, "bold": True})
    if unwritten:
        reporter.write_line(f"the report could not be written: {unwritten}", red=True)
    if page.is_file():
        reporter.write_line(f"report: {shown_path(page, config)}")


def row(outcome: Outcome, width: int) -> str:
    if outcome.state == "passed":
        said = "; ".join([outcome.result or "passed", *outcome.warnings, *outcome.retried])
    else:
        said = first_lines(outcome.message, 1) or "the run stopped before this check finished"
    line = f"{outcome.step or '':>3}  {outcome.label[:24]:<24} {state_word(outcome):<8} {said}"
    return clip(line, width)
