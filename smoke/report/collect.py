"""The plugin object of one run of the checks: its hooks collect what each check did, decide the
verdict at the end (smoke.report.run_end), and hand the page (smoke.report.render) and the terminal
(smoke.report.terminal) what they show.
"""

from __future__ import annotations

import dataclasses
import socket
from datetime import datetime
from pathlib import Path

import pytest
from pytest_metadata.plugin import metadata_key

from .. import history
from ..keys import (
    FIXES_KEY,
    HTTP_OBSERVERS_KEY,
    INCIDENT_KEY,
    RUNNER_PROBLEM_KEY,
    SCREENSHOTS_KEY,
    TARGET_KEY,
    TRACES_KEY,
    VERDICT_KEY,
)
from ..redact import Redactor
from ..target import Target
from ..text import os_problem
from ..verdict import COULD_NOT_CHECK, NO_GO, Outcome, Verdict, decide
from . import render, run_end, terminal
from .files import ReportFiles
from .pictures import lighten_images, screenshots
from .records import CheckRecord, HttpLog, cause, first_lines, missing_lines, skip_reason


class PresenterReport:
    def __init__(self, config: pytest.Config, files: ReportFiles):
        self.config = config
        self.files = files
        self.started = datetime.now().astimezone()
        self.finished: datetime | None = None
        self.records: dict[str, CheckRecord] = {}
        self.unloaded: list[Outcome] = []  # check modules that failed to import
        self.interrupted = False
        self.unwritten = ""  # why a file of the report could not be written ("" = all were)
        self.http = HttpLog()
        self.redactor = Redactor()  # until the target is known: shapes and process variables only
        self.runs: list[history.Entry] = []  # this target's runs before this one, for the report's strips
        self.incident: Path | None = None  # a NO-GO on the demo host: the diagnostics bundle, linked from the page

    @property
    def target(self) -> Target:
        return self.config.stash[TARGET_KEY]

    # -- start -----------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """tryfirst: pytest-html reads the environment table in its own (trylast) sessionstart."""
        self.redactor = Redactor(self.target.secrets)
        self._describe_environment()
        self.config.stash.setdefault(HTTP_OBSERVERS_KEY, []).append(self.http.note)

    def _describe_environment(self) -> None:
        """The target first in pytest-metadata's table, then Python, platform, plugins; all scrubbed."""
        target = self.target
        metadata = self.config.stash[metadata_key]
        ours = {
            "Environment": f"{target.name} ({target.kind})",
            "Site": target.site_url,
            "API": target.api_url,
            "Host checks": "yes" if target.host_checks else "no (not run from the demo machine)",
            "Writes allowed": "yes" if target.allow_writes else "no",
            "Checked from": socket.gethostname(),
            "Started": f"{self.started:%Y-%m-%d %H:%M:%S %Z}",
            "Command": " ".join(["pytest", *self.config.invocation_params.args]),
        }
        rest = {key: value for key, value in metadata.items() if key not in ours}
        metadata.clear()
        metadata.update(self.redactor.scrub({**ours, **rest}))

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """The checks run in the checklist's order, as the presenter reads them."""
        keys = {item.nodeid: CheckRecord.of(item, order).sort_key for order, item in enumerate(items)}
        items.sort(key=lambda item: keys[item.nodeid])

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.records = {item.nodeid: CheckRecord.of(item, order) for order, item in enumerate(session.items)}

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._scrub(report)
        if report.failed:
            module = Path(report.nodeid).name if report.nodeid else "a check module"  # "": outside the rootdir
            self.unloaded.append(Outcome(report.nodeid, f"{module} could not be loaded", "error",
                                         message=first_lines(report.longreprtext, 12), name=module))

    # -- each check ------------------------------------------------------------------------------

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        record = self.records.get(nodeid)
        self.http.current = record.requests if record else None

    def pytest_runtest_logfinish(self) -> None:
        self.http.current = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        record = self.records.get(item.nodeid)
        if report.when == "teardown" and record is not None:
            record.screenshots = screenshots(item.stash.get(SCREENSHOTS_KEY, []))
            record.traces += item.stash.get(TRACES_KEY, [])
            record.outcome.fixes = self.redactor.scrub([fix.data() for fix in item.stash.get(FIXES_KEY, [])])
            item.stash[SCREENSHOTS_KEY], item.stash[TRACES_KEY] = [], []  # a rerun starts afresh
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """tryfirst: scrubbed before the terminal, JUnit XML and pytest-html read the report."""
        self._scrub(report)
        lighten_images(report)
        record = self.records.get(report.nodeid)
        if record is None:
            return
        record.ran = True
        outcome = record.outcome
        outcome.seconds += report.duration
        if report.outcome == "rerun":
            record.failed_tries.append(first_lines(cause(report), 1))
            return
        if report.when == "setup" and report.outcome != "passed":
            outcome.state = "skipped" if report.skipped else "error"
            outcome.message = skip_reason(report) if report.skipped else cause(report)
        elif report.when == "call":
            self._called(outcome, report)
        elif report.when == "teardown":
            self._torn_down(record, report)

    def _called(self, outcome: Outcome, report: pytest.TestReport) -> None:
        if hasattr(report, "wasxfail"):  # a known problem, marked xfail: a warning, never a plain pass
            known = "still there" if report.skipped else "did not show: the xfail mark can go"
            outcome.state = "passed"
            outcome.warnings.append(f"known problem ({report.wasxfail or 'marked xfail'}): {known}")
            return
        outcome.state = report.outcome
        outcome.message = skip_reason(report) if report.skipped else cause(report) if report.failed else ""

    def _torn_down(self, record: CheckRecord, report: pytest.TestReport) -> None:
        outcome = record.outcome
        for name, value in report.user_properties:
            if name == "result":
                outcome.result = str(value)
            elif name == "warning":
                outcome.warnings.append(str(value))
            elif name == "retried":
                outcome.retried.append(str(value))
            elif name == "judged_at":
                outcome.judged_at.append(str(value))
            elif name == "timings":
                outcome.timings = dict(value)
            elif name == "playwright_trace":
                record.traces.append(Path(self.config.invocation_params.dir, str(value)))
            elif name == "playwright_screenshot" and not record.screenshots:  # --screenshot: when no step shots
                shot = Path(self.config.invocation_params.dir, str(value))
                if shot.is_file():
                    record.screenshots = screenshots([("The page when the check ended", shot.read_bytes())])
        outcome.warnings = list(dict.fromkeys(outcome.warnings))
        outcome.retried = list(dict.fromkeys(outcome.retried))
        if record.failed_tries:
            tries = len(record.failed_tries) + 1
            verb = "passed" if outcome.state == "passed" else "failed again"
            outcome.retried.append(f"{verb} on try {tries} of {tries}; try 1 failed: {record.failed_tries[0]}")
            report.user_properties.append(("reruns", str(len(record.failed_tries))))
        if report.failed:
            outcome.message = (outcome.message + "\n" if outcome.message else "") \
                + f"while cleaning up: {cause(report)}"
            if outcome.state == "passed":
                outcome.state = "error"
        record.traces = self.files.keep_traces(record.traces, outcome.nodeid, self.redactor)

    def _scrub(self, report) -> None:
        redactor = self.redactor
        longrepr = report.longrepr
        if longrepr is not None and not isinstance(longrepr, (str, tuple)) and not dataclasses.is_dataclass(longrepr):
            longrepr = report.longreprtext  # not one of pytest's dataclass representations: its text, scrubbed
        report.longrepr = redactor.scrub(longrepr)
        report.sections = redactor.scrub(list(report.sections))
        if hasattr(report, "user_properties"):
            report.user_properties = redactor.scrub(list(report.user_properties))
        for extra in getattr(report, "extras", []):
            if extra.get("format_type") not in ("image", "video"):
                extra.update(redactor.scrub(dict(extra)))

    # -- the end ---------------------------------------------------------------------------------

    def pytest_keyboard_interrupt(self) -> None:
        self.interrupted = True

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Decide after smoke.plugin's last runner check (tryfirst), before pytest-html renders (trylast)."""
        self.finished = datetime.now().astimezone()
        problem = self.runner_problem()
        if not problem and TARGET_KEY in self.config.stash:
            self.runs = run_end.recall_runs(self.files, self.target, self.finished, self.outcomes())
        verdict = self.config.stash[VERDICT_KEY] = decide(self.outcomes(), problem)
        verdict.fallback = run_end.fallback(self.config.getoption("fallback_verdict"), self.target)
        if verdict.state == NO_GO and INCIDENT_KEY in self.config.stash:
            self.incident = self.files.incident  # named now for the page to link; written with the other files
        if verdict.state == COULD_NOT_CHECK and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # nothing was judged: never a silent pass

    def runner_problem(self) -> str:
        stashed = self.config.stash.get(RUNNER_PROBLEM_KEY, "")
        return run_end.runner_problem(stashed, self.unloaded, self.records, self.interrupted)

    def outcomes(self) -> list[Outcome]:
        ran = [record.outcome for record in self.ordered() if record.ran]
        return self.unloaded + ran

    def ordered(self) -> list[CheckRecord]:
        return sorted(self.records.values(), key=lambda record: record.sort_key)

    def missing_lines(self) -> list[str]:
        return missing_lines(self.records)

    @pytest.hookimpl(wrapper=True, trylast=True, specname="pytest_sessionfinish")
    def pytest_sessionfinish_write_files(self, session: pytest.Session):
        """After pytest-html and junitxml wrote theirs (trylast wrapper: innermost, before the terminal's
        summary): scrub them once more, write the verdict, copy the fixed names. Also when a hook before
        raised (a fixture's teardown after Ctrl-C, say): the verdict is decided by then and must be written."""
        try:
            return (yield)
        except OSError as error:  # pytest-html's or JUnit's file: the verdict is still told, with where it failed
            self.unwritten = os_problem(error)
        finally:
            if VERDICT_KEY in self.config.stash:
                try:
                    run_end.write_files(self.files, self.redactor, self.verdict, self.about(), self.target,
                                         self.finished)
                    if self.incident is not None:
                        self.files.write_incident(self.incident, self.config.stash[INCIDENT_KEY], self.redactor)
                except OSError as error:
                    self.unwritten = self.unwritten or os_problem(error)
            if self.unwritten:
                session.exitstatus = pytest.ExitCode.USAGE_ERROR

    @property
    def verdict(self) -> Verdict:
        return self.config.stash[VERDICT_KEY]

    def about(self) -> dict[str, object]:
        return run_end.about(self.target, self.started, self.seconds, self.files)

    @property
    def seconds(self) -> float:
        return ((self.finished or datetime.now().astimezone()) - self.started).total_seconds()

    # -- pytest-html -----------------------------------------------------------------------------

    def pytest_html_report_title(self, report) -> None:
        report.title = f"Care2 pre-demo check: {self.target.name}"

    def pytest_html_results_summary(self, prefix: list, summary: list, postfix: list, session) -> None:
        prefix.append(render.page_top(self))
        summary.append(render.engineers_heading())

    def pytest_html_results_table_header(self, cells: list) -> None:
        cells.insert(1, render.checklist_header_cell())

    def pytest_html_results_table_row(self, report, cells: list) -> None:
        record = self.records.get(report.nodeid)
        cells.insert(1, render.checklist_cell(record.outcome if record else None))

    # -- terminal --------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminal.checklist(terminalreporter, self.ordered(), self.unloaded, self.missing_lines())

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """The very last line of the run: the verdict, and where the report is."""
        terminal.last_line(config, self.files.page, self.unwritten)
