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
The checklist: ``CHECKLIST`` in smoke/checklist.py is its one ordered list (numbers and the presenter's words). A check
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
the same Verdict is written to the JSON files above. A problem of the runner itself (smoke.keys'
RUNNER_PROBLEM_KEY, set by smoke.plugin), a check module that does not load, or a run stopped by Ctrl-C
makes it COULD NOT CHECK.

Where things are
----------------
    smoke/report/__init__.py   this API, and the hooks that give a run of the checks its report
    smoke/report/collect.py    the run's plugin object: its hooks collect each check's outcome and details
    smoke/report/records.py    what the report knows about a check (CheckRecord), in pytest's words
    smoke/report/run_end.py    the end of the run: what only the run knows added to the verdict, then written
    smoke/report/files.py      the files' names, the fixed-name copies, kept traces
    smoke/report/pictures.py   screenshots shrunk to small JPEGs (Pillow, loaded only then)
    smoke/report/render.py     what the page shows; smoke/report/templates/ says how (Jinja2, report.css)
    smoke/report/jinja.py      the templates' environment: autoescaped HTML (markupsafe), CSS inlined
    smoke/report/terminal.py   the checklist and the verdict at the end of the terminal's output
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..installed import CHECKS_DIR
from ..keys import SCREENSHOTS_KEY, TRACES_KEY, VERDICT_KEY
from ..verdict import Verdict

__all__ = ["REPORTS_DIR_VARIABLE", "VERDICT_KEY", "attach_screenshot", "attach_trace", "verdict_of"]

REPORTS_DIR_VARIABLE = "SMOKE_REPORTS_DIR"


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
    parser.getgroup("care2").addoption(
        "--fallback-verdict",
        help="the verdict file of the fallback's run, said beside this run's verdict (care2-predemo --fallback)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """A run of the checks gets the report; the suite's own tests, --help and --collect-only do not.

    tryfirst: the default --html / --junitxml paths must be set before pytest-html and junitxml start.
    The report's machinery is imported only here: a run without a report never loads it.
    """
    if config.option.help or config.option.collectonly or not _runs_checks(config):
        return
    from .collect import PresenterReport
    from .files import ReportFiles

    config.pluginmanager.register(PresenterReport(config, ReportFiles.choose(config)), "care2-presenter-report")


def _runs_checks(config: pytest.Config) -> bool:
    """The run collects from smoke/checks (no arguments = testpaths = smoke/checks)."""
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if path == CHECKS_DIR or CHECKS_DIR in path.parents or path in CHECKS_DIR.parents:
            return True
    return False
