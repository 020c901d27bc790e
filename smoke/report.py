"""The presenter's report: one self-contained HTML page that says GO or NO-GO, why, and what to do.

Every run of the checks writes, into ``--reports-dir`` (env ``SMOKE_REPORTS_DIR``, default ``reports/``),
files that are never overwritten, plus copies under fixed names for whoever wants the last run:

    predemo-<env>-<YYYYmmdd-HHMMSS>.html   the page (pytest-html, self-contained)  -> latest.html
    predemo-<env>-<YYYYmmdd-HHMMSS>.xml    JUnit XML for CI                         -> latest.xml
    predemo-<env>-<YYYYmmdd-HHMMSS>.json   the Verdict (smoke.verdict.from_json)    -> verdict.json
    predemo-<env>-<YYYYmmdd-HHMMSS>-<check>-trace.zip   a kept Playwright trace, secrets scrubbed

A run of the checks is one that collects from smoke/checks (the suite's own tests get no report).
``--html`` / ``--junitxml`` given on the command line win over these names. The page is pytest-html's,
extended through its hooks: the verdict banner and the checklist sit on top, the environment table
(pytest-metadata) and pytest-html's own per-test log below, for engineers. The terminal ends with the
same verdict line and the report's path. Secrets are scrubbed (smoke.redact) from every report object
before the terminal, JUnit or pytest-html see it, and once more from the written files.

For the engineers who write checks
----------------------------------
The checklist: ``CHECKLIST`` below is its one ordered list (numbers and the presenter's words). A check
joins a line by starting its docstring with the line's number in parentheses, as test_web.py does, or
with the line's name and a colon; several checks may share a line, and a check on no line is listed
after the checklist under the words before its docstring's colon:

    def test_tunnel_ready(target, check):
        \"\"\"(6) Tunnel: cloudflared holds its edge connections.\"\"\"

What a row says comes from the ``check`` fixture: ``check.passed("API answered in 42 ms: alive")`` is
the green result line, ``check.warn(...)`` turns GO into GO WITH WARNINGS, ``check.fail(...)`` /
``check.that(...)`` give the cause and the fix (each ``fix: ...`` line becomes "What to do"), and
network retries are recorded by Check itself. A pass after a pytest-rerunfailures rerun is marked as
such, and so is an xfail. Every HTTP request a check makes through the run's ``http`` Client is listed
under it with its phases (connect, TLS, first byte).

Screenshots (the browser walk):

    attach_screenshot(request, png_bytes, "2. Consent")   # request = the test's FixtureRequest, or the item

or fill the ``walk_screenshots`` fixture's list (smoke.plugin); both end up in the same list. They are
shown step by step in the check's row, downscaled and JPEG-compressed (Pillow) so the page stays light.
When the check fails, the last one is shown large. A kept Playwright trace is linked with

    attach_trace(request, "test-results/.../trace.zip")

and pytest-playwright's own ``--tracing retain-on-failure`` traces are picked up by themselves. Either
way the trace is scrubbed of secrets and copied beside the report, so the link outlives test-results/.

Alerts and CI: ``verdict_of(config)`` is the run's Verdict once the tests have run (pytest_sessionfinish);
the same Verdict is written to the JSON files above. A problem of the runner itself (smoke.plugin's
RUNNER_PROBLEM_KEY), a check module that does not load, or a run stopped by Ctrl-C makes it COULD NOT CHECK.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import html
import io
import math
import os
import re
import shutil
import socket
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image
from pytest_metadata.plugin import metadata_key

from . import history
from .plugin import HTTP_OBSERVERS_KEY, RUNNER_PROBLEM_KEY, SCREENSHOTS_KEY, TARGET_KEY
from .probes.http import Answer, NoAnswer
from .redact import Redactor
from .target import Target
from .text import clip, duration
from .verdict import COULD_NOT_CHECK, GO, GO_WITH_WARNINGS, NO_GO, Outcome, Verdict, decide, names

# The checklist, in the presenter's order and words. A check says its line in its docstring: "(3) ...".
CHECKLIST = {
    1: "Site reachable",
    2: "Tell Your Story page",
    3: "API health",
    4: "Database",
    5: "Frontend to backend",
    6: "Tunnel",
    7: "No error pages",
    8: "Ports",
    9: "Processes",
    10: "The walk",
    11: "TLS",
}
UNLISTED = 1000  # checks without a checklist number come after every line
STEP_PREFIX = re.compile(r"^\s*\((\d+)\)\s*")

REPORTS_DIR_VARIABLE = "SMOKE_REPORTS_DIR"
CHECKS_DIR = Path(__file__).parent / "checks"
VERDICT_KEY = pytest.StashKey[Verdict]()
TRACES_KEY = pytest.StashKey[list]()

# Screenshots: wide enough to read a page's text, small enough for ten of them in well under 2 MB.
IMAGE_WIDTH = 960
IMAGE_HEIGHT = 1600  # a full-page shot is cut here: the top of the page is what the presenter sees
IMAGE_QUALITY = 70
IMAGES_BUDGET = 1_200_000  # bytes of JPEG in one check's row; beyond it its pictures are shrunk further


# ---------------------------------------------------------------------------------------------------
# The API for checks


def attach_screenshot(node, image: bytes, caption: str) -> None:
    """Show ``image`` (PNG or JPEG bytes) in the report, in the row of the running check.

    ``node`` is the test's ``request`` (FixtureRequest) or the test item itself.
    """
    item = getattr(node, "node", node)
    item.stash.setdefault(SCREENSHOTS_KEY, []).append((caption, image))


def attach_trace(node, path: str | os.PathLike) -> None:
    """Link a kept Playwright trace in the check's row (scrubbed of secrets, copied beside the report)."""
    item = getattr(node, "node", node)
    item.stash.setdefault(TRACES_KEY, []).append(Path(path))


def verdict_of(config: pytest.Config) -> Verdict | None:
    """The run's verdict, once its checks have run (from pytest_sessionfinish on)."""
    return config.stash.get(VERDICT_KEY, None)


# ---------------------------------------------------------------------------------------------------
# Hooks that decide whether this run gets a presenter's report


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("care2").addoption(
        "--reports-dir",
        default=os.environ.get(REPORTS_DIR_VARIABLE) or None,
        help=f"where the HTML, JUnit and verdict files go (default: reports/; env {REPORTS_DIR_VARIABLE})",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """A run of the checks gets the report; the suite's own tests, --help and --collect-only do not.

    tryfirst: the default --html / --junitxml paths must be set before pytest-html and junitxml start.
    """
    if config.option.help or config.option.collectonly or not _runs_checks(config):
        return
    config.pluginmanager.register(PresenterReport(config, ReportFiles.choose(config)), "care2-presenter-report")


def _runs_checks(config: pytest.Config) -> bool:
    """The run collects from smoke/checks (no arguments = testpaths = smoke/checks)."""
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if path == CHECKS_DIR or CHECKS_DIR in path.parents or path in CHECKS_DIR.parents:
            return True
    return False


@dataclass
class ReportFiles:
    """Where this run's files go. ``page``/``junit`` are the real paths, whoever chose them."""

    folder: Path
    stem: str
    page: Path
    junit: Path

    @classmethod
    def choose(cls, config: pytest.Config) -> ReportFiles:
        """Our names unless the command line gave --html / --junitxml; the page always self-contained."""
        chosen = config.getoption("reports_dir")
        folder = Path(config.invocation_params.dir, chosen) if chosen else config.rootpath / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        environment = re.sub(r"[^\w.-]+", "-", str(config.getoption("env")))
        base = f"predemo-{environment}-{datetime.now():%Y%m%d-%H%M%S}"
        stem, number = base, 1
        while any(folder.glob(f"{stem}.*")) or any(folder.glob(f"{stem}-*")):  # never overwrite a report
            number += 1
            stem = f"{base}-{number}"
        if not config.option.htmlpath:
            config.option.htmlpath = str(folder / f"{stem}.html")
        config.option.self_contained_html = True  # one file the presenter can open from email or chat
        if not config.option.xmlpath:
            config.option.xmlpath = str(folder / f"{stem}.xml")
        where = config.invocation_params.dir
        return cls(folder, stem, Path(where, config.option.htmlpath), Path(where, config.option.xmlpath))

    @property
    def verdict(self) -> Path:
        return self.folder / f"{self.stem}.json"

    def latest(self) -> list[tuple[Path, Path]]:
        """(this run's file, its fixed name): latest.html, latest.xml, verdict.json."""
        return [(self.page, self.folder / "latest.html"), (self.junit, self.folder / "latest.xml"),
                (self.verdict, self.folder / "verdict.json")]


# ---------------------------------------------------------------------------------------------------
# What the report knows about each check


@dataclass(frozen=True)
class Exchange:
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
    def of(cls, outcome: Answer | NoAnswer, reused: bool) -> Exchange:
        if isinstance(outcome, NoAnswer):
            return cls(outcome.method, outcome.url, outcome.reason, outcome.seconds * 1000,
                       attempts=outcome.attempts, reused=reused)
        timings = outcome.timings
        return cls(outcome.method, outcome.url, str(outcome.status), timings.total_ms, timings.connect_ms,
                   timings.tls_ms, timings.first_byte_ms, outcome.attempts, reused)


class HttpLog:
    """The requests of the running check, as the run's ``http`` client tells its observers."""

    def __init__(self):
        self.current: list[Exchange] | None = None

    def note(self, outcome: Answer | NoAnswer, reused: bool) -> None:
        if self.current is not None:
            self.current.append(Exchange.of(outcome, reused))


@dataclass
class Screenshot:
    caption: str
    jpeg: bytes

    @classmethod
    def of(cls, caption: str, image: bytes, width: int = IMAGE_WIDTH) -> Screenshot:
        return cls(caption, shrink(image, width))

    def uri(self) -> str:
        return "data:image/jpeg;base64," + base64.b64encode(self.jpeg).decode("ascii")


def screenshots(shots: list[tuple[str, bytes]]) -> list[Screenshot]:
    """(caption, image) pairs as the report shows them; bytes that are no picture are left out."""
    pictures = []
    for caption, image in shots:
        try:
            pictures.append(Screenshot.of(caption, image))
        except OSError:  # PIL: not an image it can read
            continue
    return pictures


def shrink(image: bytes, width: int = IMAGE_WIDTH) -> bytes:
    """``image`` as a JPEG at most ``width`` wide and IMAGE_HEIGHT tall (the top of a long page)."""
    with Image.open(io.BytesIO(image)) as opened:
        picture = opened.convert("RGB")
    if picture.width > width:
        picture = picture.resize((width, max(1, round(picture.height * width / picture.width))),
                                 Image.Resampling.LANCZOS)
    if picture.height > IMAGE_HEIGHT:
        picture = picture.crop((0, 0, picture.width, IMAGE_HEIGHT))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=IMAGE_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


@dataclass
class CheckRecord:
    """Everything the report shows for one check; ``outcome`` is what the verdict is decided on."""

    outcome: Outcome
    description: str  # the docstring's line after the checklist name
    order: int  # position in collection
    ran: bool = False
    failed_tries: list[str] = field(default_factory=list)  # first line of each try before a rerun
    requests: list[Exchange] = field(default_factory=list)
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
        step = int(numbered.group(1)) if numbered else _step_named(head)
        name = CHECKLIST.get(step) or (head if colon and len(head) <= 40 else title)
        description = rest.strip() if colon and head.lower() == name.lower() else title
        return cls(Outcome(item.nodeid, title, "not run", step=step, name=name), description, order)

    @property
    def sort_key(self) -> tuple[int, int]:
        return (self.outcome.step or UNLISTED, self.order)


# ---------------------------------------------------------------------------------------------------
# The plugin object of one run


class PresenterReport:
    def __init__(self, config: pytest.Config, files: ReportFiles):
        self.config = config
        self.files = files
        self.started = datetime.now().astimezone()
        self.finished: datetime | None = None
        self.records: dict[str, CheckRecord] = {}
        self.unloaded: list[Outcome] = []  # check modules that failed to import
        self.interrupted = False
        self.http = HttpLog()
        self.redactor = Redactor()  # until the target is known: shapes and process variables only
        self.runs: list[history.Entry] = []  # this target's runs before this one, for the report's strips

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
                                         message=_first_lines(report.longreprtext, 12), name=module))

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
            item.stash[SCREENSHOTS_KEY], item.stash[TRACES_KEY] = [], []  # a rerun starts afresh
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """tryfirst: scrubbed before the terminal, JUnit XML and pytest-html read the report."""
        self._scrub(report)
        self._lighten_images(report)
        record = self.records.get(report.nodeid)
        if record is None:
            return
        record.ran = True
        outcome = record.outcome
        outcome.seconds += report.duration
        if report.outcome == "rerun":
            record.failed_tries.append(_first_lines(_cause(report), 1))
            return
        if report.when == "setup" and report.outcome != "passed":
            outcome.state = "skipped" if report.skipped else "error"
            outcome.message = _skip_reason(report) if report.skipped else _cause(report)
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
        outcome.message = _skip_reason(report) if report.skipped else _cause(report) if report.failed else ""

    def _torn_down(self, record: CheckRecord, report: pytest.TestReport) -> None:
        outcome = record.outcome
        for name, value in report.user_properties:
            if name == "result":
                outcome.result = str(value)
            elif name == "warning":
                outcome.warnings.append(str(value))
            elif name == "retried":
                outcome.retried.append(str(value))
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
            cause = _cause(report)
            outcome.message = (outcome.message + "\n" if outcome.message else "") + f"while cleaning up: {cause}"
            if outcome.state == "passed":
                outcome.state = "error"
        check = re.sub(r"[^\w.]+", "-", outcome.nodeid.split("::")[-1]).strip("-")[:60]
        kept = [self._keep_trace(path, check) for path in dict.fromkeys(record.traces) if path.is_file()]
        record.traces = [path for path in kept if path is not None]

    def _keep_trace(self, path: Path, check: str) -> Path | None:
        """Scrub the trace where it is and copy it beside the report, named after the run and the check.

        A trace that cannot be read cannot be scrubbed either: it is deleted rather than kept with secrets.
        """
        try:
            self.redactor.trace(path)
        except (zipfile.BadZipFile, OSError):
            path.unlink(missing_ok=True)
            return None
        kept = self.files.page.with_name(f"{self.files.stem}-{check}-{path.name}")
        if kept.resolve() != path.resolve():
            shutil.copyfile(path, kept)
        return kept

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

    def _lighten_images(self, report) -> None:
        """pytest-html image extras (e.g. pytest-playwright's failure screenshot) as small JPEGs."""
        for extra in getattr(report, "extras", []):
            if extra.get("format_type") != "image" or extra.get("mime_type") == "image/jpeg":
                continue
            try:
                image = base64.b64decode(extra["content"], validate=True)
                extra.update(content=base64.b64encode(shrink(image)).decode("ascii"),
                             mime_type="image/jpeg", extension="jpg")
            except (binascii.Error, OSError, ValueError):
                continue  # a link, not an embedded picture

    # -- the end ---------------------------------------------------------------------------------

    def pytest_keyboard_interrupt(self) -> None:
        self.interrupted = True

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Decide after smoke.plugin's last runner check (tryfirst), before pytest-html renders (trylast)."""
        self.finished = datetime.now().astimezone()
        problem = self.runner_problem()
        if not problem and TARGET_KEY in self.config.stash:
            self._recall_runs()
        verdict = self.config.stash[VERDICT_KEY] = decide(self.outcomes(), problem)
        if verdict.state == COULD_NOT_CHECK and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # nothing was judged: never a silent pass

    def _recall_runs(self) -> None:
        """This target's earlier runs; a check red in one of the last flap_window seconds warns now."""
        settings = self.target.history
        now = history.Entry(self.finished.isoformat(timespec="seconds"), **self._who(), state="")
        entries = history.read(self.files.folder / history.FILE_NAME)
        self.runs = [entry for entry in entries if entry.same_target(now)][-(settings.strip - 1):] \
            if settings.strip > 1 else []
        recent = history.earlier(entries, now, settings.flap_window)
        warned = set()
        for outcome in self.outcomes():
            if outcome.state == "passed" and outcome.label not in warned:
                flapped = history.flapped(outcome.label, recent)
                if flapped:
                    outcome.warnings.append(flapped)
                    warned.add(outcome.label)

    def _who(self) -> dict[str, str]:
        target = self.target
        return {"environment": target.name, "site_url": target.site_url, "api_url": target.api_url}

    def outcomes(self) -> list[Outcome]:
        ran = [record.outcome for record in self.ordered() if record.ran]
        return self.unloaded + ran

    def ordered(self) -> list[CheckRecord]:
        return sorted(self.records.values(), key=lambda record: record.sort_key)

    def runner_problem(self) -> str:
        problem = self.config.stash.get(RUNNER_PROBLEM_KEY, "")
        if problem:
            return problem
        if self.unloaded:
            return "the suite itself is broken: " + ", ".join(outcome.name for outcome in self.unloaded) \
                + " could not be loaded"
        if self.interrupted:
            done = sum(1 for record in self.records.values() if record.outcome.state != "not run")
            return f"the run was stopped after {done} of {len(self.records)} checks"
        return ""

    @pytest.hookimpl(wrapper=True, trylast=True, specname="pytest_sessionfinish")
    def pytest_sessionfinish_write_files(self, session: pytest.Session):
        """After pytest-html and junitxml wrote theirs (trylast wrapper: innermost, before the terminal's
        summary): scrub them once more, write the verdict, copy the fixed names. Also when a hook before
        raised (a fixture's teardown after Ctrl-C, say): the verdict is decided by then and must be written."""
        try:
            return (yield)
        finally:
            if VERDICT_KEY in self.config.stash:
                self._write_files()

    def _write_files(self) -> None:
        files = self.files
        for path in (files.page, files.junit):
            if path.is_file():
                self.redactor.file(path)
        files.verdict.write_text(self.redactor.text(self.verdict.to_json(self.about())), encoding="utf-8")
        settings = self.target.history
        history.append(files.folder / history.FILE_NAME, history.Entry.of(self.verdict, self.about(), self.finished),
                       settings.max_age, settings.max_runs, self.redactor.text)
        for path, fixed in files.latest():
            if path.is_file() and path.resolve() != fixed.resolve():
                shutil.copyfile(path, fixed)

    @property
    def verdict(self) -> Verdict:
        return self.config.stash[VERDICT_KEY]

    def about(self) -> dict[str, object]:
        target = self.target
        return {"environment": target.name, "kind": target.kind, "site_url": target.site_url,
                "api_url": target.api_url, "started": self.started.isoformat(timespec="seconds"),
                "seconds": round(self.seconds, 1), "report": str(self.files.page)}

    @property
    def seconds(self) -> float:
        return ((self.finished or datetime.now().astimezone()) - self.started).total_seconds()

    # -- pytest-html -----------------------------------------------------------------------------

    def pytest_html_report_title(self, report) -> None:
        report.title = f"Care2 pre-demo check: {self.target.name}"

    def pytest_html_results_summary(self, prefix: list, summary: list, postfix: list, session) -> None:
        prefix.append(render_page_top(self))
        summary.append('<h2 class="c2-engineers">For engineers: the full log of every check</h2>')

    def pytest_html_results_table_header(self, cells: list) -> None:
        cells.insert(1, "<th>Checklist line</th>")

    def pytest_html_results_table_row(self, report, cells: list) -> None:
        record = self.records.get(report.nodeid)
        line = _step_label(record.outcome) if record else ""
        cells.insert(1, f'<td class="col-check">{html.escape(line)}</td>')

    # -- terminal --------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminalreporter.write_sep("-", "pre-demo checklist")
        width = max(shutil.get_terminal_size((120, 24)).columns, 80)
        for record in self.ordered():
            if record.ran:
                terminalreporter.write_line(_terminal_row(record.outcome, width))
        for outcome in self.unloaded:
            terminalreporter.write_line(_terminal_row(outcome, width))
        missing = self.missing_lines()
        if missing:
            terminalreporter.write_line(f"    not in this run: {', '.join(missing)}")

    def missing_lines(self) -> list[str]:
        present = {record.outcome.step for record in self.records.values() if record.ran}
        return [name for step, name in CHECKLIST.items() if step not in present]

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """The very last line of the run: the verdict, and where the report is."""
        verdict = config.stash.get(VERDICT_KEY, None)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if verdict is None or reporter is None:
            return
        colour = {GO: "green", GO_WITH_WARNINGS: "yellow", NO_GO: "red"}.get(verdict.state, "purple")
        reporter.write_line(f"{verdict.headline()} ({verdict.tally()})", **{colour: True, "bold": True})
        reporter.write_line(f"report: {_shown_path(self.files.page, config)}")


# ---------------------------------------------------------------------------------------------------
# Words


def _step_named(head: str) -> int:
    """The checklist line called ``head`` ("Ports"), or 0."""
    return next((step for step, name in CHECKLIST.items() if name.lower() == head.lower()), 0)


def _cause(report) -> str:
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


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr or "")
    return reason.removeprefix("Skipped: ")


def _first_lines(text: str, count: int) -> str:
    return "\n".join([line for line in text.strip().splitlines() if line.strip()][:count])


def _step_label(outcome: Outcome) -> str:
    return f"({outcome.step}) {outcome.label}" if outcome.step else outcome.label


def _state_word(outcome: Outcome) -> str:
    if outcome.shaky:
        return "WARNING"
    return {"passed": "OK", "failed": "FAILED", "error": "ERROR", "skipped": "SKIPPED"}.get(outcome.state, "NOT RUN")


def _terminal_row(outcome: Outcome, width: int) -> str:
    if outcome.state == "passed":
        said = "; ".join([outcome.result or "passed", *outcome.warnings, *outcome.retried])
    else:
        said = _first_lines(outcome.message, 1) or "the run stopped before this check finished"
    row = f"{outcome.step or '':>3}  {outcome.label[:24]:<24} {_state_word(outcome):<8} {said}"
    return clip(row, width)


def _shown_path(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.relative_to(config.invocation_params.dir))
    except ValueError:
        return str(path)


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


# ---------------------------------------------------------------------------------------------------
# The top of the page: banner and checklist (static HTML: readable even where scripts do not run)

VERDICT_CLASS = {GO: "go", GO_WITH_WARNINGS: "warn", NO_GO: "nogo", COULD_NOT_CHECK: "unknown"}
ROW_CLASS = {"OK": "ok", "WARNING": "warn", "FAILED": "fail", "ERROR": "fail", "SKIPPED": "skip", "NOT RUN": "skip"}


def render_page_top(run: PresenterReport) -> str:
    verdict = run.verdict
    return "\n".join([f"<style>{STYLE}{history.CELL_STYLE}</style>", _watching(run), _banner(run, verdict),
                      _checklist(run)])


def _watching(run: PresenterReport) -> str:
    """Under `care2-predemo watch`: when this run ended, and a page that reloads itself for the next one."""
    try:
        every = float(os.environ.get(history.WATCH_EVERY, ""))
    except ValueError:
        return ""
    until = os.environ.get(history.WATCH_UNTIL, "")
    finished = run.finished or datetime.now().astimezone()
    countdown = (f' Demo at <b>{html.escape(until[11:16])}</b>: <b class="c2-countdown" data-until="'
                 f'{html.escape(until)}"></b>.' if until else "")
    return (f'<p class="c2-watch">Watching: this run ended at {finished:%H:%M:%S}; the page reloads itself '
            f"when the next is due (every {every:g} s).{countdown}</p>"
            f"<script>{WATCH_SCRIPT.replace('EVERY_MS', str(int(every * 1000)))}</script>")


WATCH_SCRIPT = """
setTimeout(() => location.reload(), EVERY_MS + 5000);
const c2Countdown = document.querySelector(".c2-countdown");
if (c2Countdown) {
  const due = new Date(c2Countdown.dataset.until);
  const tick = () => {
    const left = Math.max(0, Math.round((due - new Date()) / 1000));
    c2Countdown.textContent = left ? `in ${Math.floor(left / 60)} min ${left % 60} s` : "now";
  };
  tick();
  setInterval(tick, 1000);
}
"""


def _strip(runs: list[history.Entry], outcome: Outcome) -> str:
    """The check in the runs before this one and in this one: one coloured cell each, oldest first."""
    cells = [history.span(*history.cell(entry, outcome.label)) for entry in runs]
    now = "fail" if outcome.red else "ok" if outcome.state == "passed" else "none"
    cells.append(history.span(now, f"this run: {outcome.state}", " c2-cell-now"))
    return (f'<div class="c2-strip" aria-label="the last {len(cells)} runs">'
            f'<span class="c2-strip-label">last {len(cells)} runs</span>{"".join(cells)}</div>')


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


def _banner(run: PresenterReport, verdict: Verdict) -> str:
    e = html.escape
    outcomes = verdict.outcomes
    counts = [
        ("fail", sum(1 for outcome in outcomes if outcome.red), "failed"),
        ("warn", sum(1 for outcome in outcomes if outcome.shaky), "passed with warnings"),
        ("ok", sum(1 for outcome in outcomes if outcome.state == "passed" and not outcome.shaky), "passed"),
        ("skip", verdict.count("skipped"), "skipped"),
    ]
    tally = " ".join(f'<span class="c2-count c2-{kind}"><b>{number}</b> {words}</span>'
                     for kind, number, words in counts if number)
    target = run.target
    started = run.started
    facts = [
        ("Environment", f"{target.name} ({target.kind})"),
        ("Site", target.site_url),
        ("API", target.api_url),
        ("Checked", f"{started:%a %d %b %Y, %H:%M:%S} {started:%Z}, took {duration(run.seconds)}"),
        ("From", socket.gethostname()),
    ]
    rows = "".join(f"<dt>{e(name)}</dt><dd>{e(run.redactor.text(value))}</dd>" for name, value in facts)
    return (f'<section class="c2-banner c2-{VERDICT_CLASS[verdict.state]}" id="verdict">'
            f'<div class="c2-verdict">{e(verdict.state)}</div>'
            f'<p class="c2-say">{e(run.redactor.text(_say(verdict, run.missing_lines())))}</p>'
            f'<p class="c2-tally">{tally or "no checks ran"}</p><dl class="c2-facts">{rows}</dl></section>')


def _checklist(run: PresenterReport) -> str:
    rows = [_row(run, record) for record in run.ordered() if record.ran]
    rows += [_row(run, CheckRecord(outcome, "", 0, ran=True)) for outcome in run.unloaded]
    missing = run.missing_lines()
    note = (f'<p class="c2-missing">Not part of this run: {html.escape(", ".join(missing))}.</p>'
            if missing else "")
    if not rows:
        rows = ['<li class="c2-row c2-skip"><div class="c2-body">No check ran.</div></li>']
    return f'<section class="c2-checklist"><h2>Checklist</h2><ol>{"".join(rows)}</ol>{note}</section>'


def _row(run: PresenterReport, record: CheckRecord) -> str:
    e = html.escape
    outcome = record.outcome
    word = _state_word(outcome)
    parts = [f'<div class="c2-head"><span class="c2-name">{e(outcome.label)}</span>'
             f'<span class="c2-badge">{word}</span><span class="c2-time">{duration(outcome.seconds)}</span></div>']
    if record.description and record.description != outcome.label:
        parts.append(f'<div class="c2-what">{e(record.description)}</div>')
    if outcome.red or outcome.state == "skipped":
        parts.append(_message(outcome))
    elif word == "NOT RUN":
        parts.append('<p class="c2-result">Not checked: the run stopped before this check finished.</p>')
    else:
        parts.append(f'<p class="c2-result">{e(outcome.result or "passed")}</p>')
    if run.runs:
        parts.append(_strip(run.runs, outcome))
    notes = [f"Warning: {line}" for line in outcome.warnings] + [f"Retried: {line}" for line in outcome.retried]
    if notes:
        parts.append('<ul class="c2-notes">' + "".join(f"<li>{e(note)}</li>" for note in notes) + "</ul>")
    if record.screenshots:
        parts.append(_screenshots(record.screenshots, outcome.red, run.redactor))
    if record.traces:
        parts.append(_traces(run, record.traces))
    if record.requests:
        parts.append(_requests(record.requests, run.redactor))
    step = outcome.step or ""
    return (f'<li class="c2-row c2-{ROW_CLASS[word]}" id="check-{e(outcome.nodeid)}">'
            f'<div class="c2-step">{step}</div><div class="c2-body">{"".join(parts)}</div></li>')


def _message(outcome: Outcome) -> str:
    """A red check's cause, then what to do and the details (request, body); a skip's reason.

    One ``fix:`` goes right under the cause; several (one per problem) stay beside their problems.
    """
    e = html.escape
    lines = [line for line in outcome.message.strip().splitlines() if line.strip()]
    if outcome.state == "skipped":
        return f'<p class="c2-result">Not checked: {e(" ".join(lines) or "skipped")}</p>'
    cause, rest = (lines[0], lines[1:]) if lines else ("failed without a message", [])
    fixes = [line for line in rest if _fix(line) is not None]
    if len(fixes) == 1:
        rest = fixes + [line for line in rest if line not in fixes]
    out, details = [f'<p class="c2-cause">{e(cause)}</p>'], []
    for line in rest + [""]:
        fix = _fix(line)
        if (fix is not None or not line) and details:
            out.append(f'<pre class="c2-detail">{e(chr(10).join(details))}</pre>')
            details = []
        if fix is not None:
            out.append(f'<p class="c2-fix"><b>What to do:</b> {e(fix)}</p>')
        elif line:
            details.append(line.strip())
    return "".join(out)


def _fix(line: str) -> str | None:
    """The advice of a ``fix: ...`` line of a check's message, else None."""
    stripped = line.strip()
    return stripped[len("fix:"):].strip() if stripped.startswith("fix:") else None


ENLARGE = "this.classList.toggle('c2-big')"


def _screenshots(shots: list[Screenshot], stopped: bool, redactor: Redactor) -> str:
    """Step by step; a failed walk shows where it stopped, large. A click enlarges any picture."""
    shots = _within_budget(shots)
    figures = []
    for number, shot in enumerate(shots, 1):
        last = stopped and number == len(shots)
        caption = redactor.text(("Where it stopped: " if last else "") + shot.caption)
        figures.append(f'<figure class="c2-shot{" c2-big" if last else ""}" onclick="{ENLARGE}">'
                       f'<img src="{shot.uri()}" alt="{html.escape(caption)}">'
                       f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    return f'<div class="c2-shots">{"".join(figures)}</div>'


def _within_budget(shots: list[Screenshot]) -> list[Screenshot]:
    """Many or busy pictures are shrunk together so that they never make the page heavy."""
    total = sum(len(shot.jpeg) for shot in shots)
    if total <= IMAGES_BUDGET:
        return shots
    width = max(320, int(IMAGE_WIDTH * math.sqrt(IMAGES_BUDGET / total) * 0.9))
    return [Screenshot.of(shot.caption, shot.jpeg, width) for shot in shots]


def _traces(run: PresenterReport, traces: list[Path]) -> str:
    links = []
    for path in traces:
        shown = _shown_path(path, run.config)
        href = os.path.relpath(path, run.files.page.parent) if path.drive == run.files.page.drive else path.as_uri()
        links.append(f'<li><a href="{html.escape(Path(href).as_posix())}">{html.escape(path.name)}</a> '
                     f"(open it with <code>playwright show-trace {html.escape(shown)}</code>)</li>")
    return f'<div class="c2-traces">Playwright trace, kept beside this report:<ul>{"".join(links)}</ul></div>'


def _requests(exchanges: list[Exchange], redactor: Redactor) -> str:
    def e(text: str) -> str:
        return html.escape(redactor.text(text))

    rows = []
    for exchange in exchanges:
        answer = exchange.answer + (" (same answer as earlier in this run)" if exchange.reused else "")
        rows.append(f"<tr><td>{e(exchange.method)} {e(exchange.url)}</td><td>{e(answer)}</td>"
                    f"<td>{_ms(exchange.total_ms)}</td><td>{_ms(exchange.connect_ms)}</td>"
                    f"<td>{_ms(exchange.tls_ms)}</td><td>{_ms(exchange.first_byte_ms)}</td>"
                    f"<td>{exchange.attempts}</td></tr>")
    asked = [exchange for exchange in exchanges if not exchange.reused]
    total = sum(exchange.total_ms for exchange in asked) / 1000
    return (f'<details class="c2-requests"><summary>{len(exchanges)} HTTP request'
            f'{"s" if len(exchanges) != 1 else ""} ({duration(total)} on the network)</summary>'
            "<table><tr><th>Request</th><th>Answer</th><th>Total</th><th>Connect</th><th>TLS</th>"
            f'<th>First byte</th><th>Tries</th></tr>{"".join(rows)}</table></details>')


STYLE = """
body { display: flex; flex-direction: column; min-width: 0; max-width: 1180px; margin: 0 auto;
  padding: 12px 20px 40px; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial,
  sans-serif; color: #1f2328; }
#title { order: -3; font-size: 20px; margin: 10px 0 2px; }
body > p { order: -3; margin: 0 0 12px; color: #656d76; font-size: 12px; }
body > p a { color: #656d76; }
.summary, .summary__data { display: contents; }
.additional-summary.prefix { order: -2; }
#environment-header, #environment, .c2-engineers { order: -1; }
#environment { font-size: 13px; margin-bottom: 8px; }
#environment td { color: #1f2328; }
.summary__data > h2, .summary__spacer { display: none; }
.c2-engineers { margin: 28px 0 4px; padding-top: 16px; border-top: 2px solid #d0d7de; font-size: 18px; }
#results-table { color: #57606a; }
.c2-banner { border-radius: 10px; padding: 18px 22px; margin: 4px 0 18px; color: #fff; }
.c2-banner.c2-go { background: #1a7f37; }
.c2-banner.c2-warn { background: #9a6700; }
.c2-banner.c2-nogo { background: #cf222e; }
.c2-banner.c2-unknown { background: #57606a; }
.c2-verdict { font-size: 44px; font-weight: 800; letter-spacing: .5px; line-height: 1.1; }
.c2-say { color: #fff; font-size: 18px; margin: 8px 0 10px; max-width: 900px; }
.c2-tally { color: #fff; margin: 0 0 12px; }
.c2-count { display: inline-block; background: rgba(255,255,255,.18); border-radius: 14px; padding: 2px 12px;
  margin: 0 6px 4px 0; }
.c2-facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; font-size: 14px; }
.c2-facts dt { opacity: .8; }
.c2-facts dd { margin: 0; overflow-wrap: anywhere; }
.c2-checklist h2 { font-size: 20px; margin: 6px 0 8px; }
.c2-checklist ol { list-style: none; margin: 0; padding: 0; }
.c2-row { display: flex; gap: 14px; border: 1px solid #d0d7de; border-left: 8px solid #8c959f; border-radius: 8px;
  padding: 10px 14px; margin: 0 0 10px; background: #fff; }
.c2-row.c2-ok { border-left-color: #1a7f37; }
.c2-row.c2-warn { border-left-color: #bf8700; background: #fffbea; }
.c2-row.c2-fail { border-left-color: #cf222e; background: #fff5f5; }
.c2-row.c2-skip { border-left-color: #8c959f; background: #f6f8fa; color: #57606a; }
.c2-step { flex: 0 0 28px; font-size: 22px; font-weight: 700; color: #8c959f; text-align: right; }
.c2-body { flex: 1 1 auto; min-width: 0; }
.c2-head { display: flex; align-items: baseline; gap: 12px; flex-wrap: wrap; }
.c2-name { font-size: 18px; font-weight: 700; }
.c2-badge { font-size: 12px; font-weight: 700; border-radius: 10px; padding: 1px 10px; color: #fff;
  background: #8c959f; }
.c2-ok .c2-badge { background: #1a7f37; }
.c2-warn .c2-badge { background: #9a6700; }
.c2-fail .c2-badge { background: #cf222e; }
.c2-time { margin-left: auto; color: #57606a; font-size: 13px; }
.c2-what { color: #57606a; font-size: 14px; }
.c2-result, .c2-cause, .c2-fix { margin: 6px 0 0; color: #1f2328; }
.c2-cause { font-weight: 600; color: #a40e26; overflow-wrap: anywhere; }
.c2-fix { background: #fff; border: 1px solid #f0b4b4; border-radius: 6px; padding: 6px 10px; }
.c2-detail { margin: 6px 0 0; font-size: 12px; white-space: pre-wrap; overflow-wrap: anywhere; color: #57606a; }
.c2-notes { margin: 6px 0 0; padding-left: 20px; color: #7d4e00; }
.c2-strip { display: flex; align-items: center; gap: 3px; margin: 6px 0 0; font-size: 12px; color: #57606a; }
.c2-strip-label { margin-right: 6px; }
.c2-watch { order: -3; margin: 0 0 10px; padding: 6px 12px; border-radius: 6px; background: #ddf4ff; }
.c2-shots { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0 0; }
.c2-shot { margin: 0; width: 220px; cursor: zoom-in; }
.c2-shot img { width: 100%; border: 1px solid #d0d7de; border-radius: 4px; display: block; }
.c2-shot figcaption { font-size: 12px; color: #57606a; }
.c2-shot.c2-big { width: 100%; max-width: 960px; cursor: zoom-out; order: -1; }
.c2-shot.c2-big figcaption { font-size: 14px; font-weight: 600; color: #a40e26; }
.c2-traces { margin: 8px 0 0; font-size: 13px; }
.c2-traces ul { margin: 2px 0; }
.c2-traces a { color: #0969da; }
.c2-requests { margin: 8px 0 0; font-size: 13px; color: #57606a; }
.c2-requests summary { cursor: pointer; }
.c2-requests table { border-collapse: collapse; margin-top: 4px; font-size: 12px; }
.c2-requests td, .c2-requests th { border: 1px solid #d0d7de; padding: 2px 6px; text-align: left;
  overflow-wrap: anywhere; }
.c2-missing { color: #57606a; font-size: 14px; }
@media (max-width: 700px) { .c2-verdict { font-size: 34px; } .c2-step { display: none; } }
"""
