"""The presenter's report, read back from real runs: the suite runs as a subprocess, as a person runs it.

Runs go against nothing (all red), against the local stage (healthy, then three faults at once), and
with small check modules written here that show what test_web.py cannot: screenshots, a rerun, a
warning, a kept trace, a secret in every place one can leak from, a module that does not load.
Every run writes into a temporary reports folder, never the repository's reports/.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from string import Template
from types import SimpleNamespace

import pytest
from bs4 import BeautifulSoup
from PIL import Image, ImageDraw

from fixtures.stage import Stage
from smoke import history
from smoke.checklist import CHECKLIST
from smoke.redact import MASK, Redactor
from smoke.report.pictures import IMAGE_WIDTH, shrink
from smoke.report.records import CheckRecord
from smoke.verdict import COULD_NOT_CHECK, GO, GO_WITH_WARNINGS, NO_GO, Outcome, decide, from_json
from tests.conftest import serving

ROOT = Path(__file__).parent.parent
WEB = "smoke/checks/test_web.py"
NO_OUTSIDE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1"
SECRET = "Sesame-7f3a9c-planted"  # listed in the environment's `secrets`
TOKEN = "tok-4c1d2e9b8a7f6e5d"  # only ever inside an Authorization header
MAX_REPORT = 2 * 1024 * 1024


# ---------------------------------------------------------------------------------------------------
# Running the suite and reading what it wrote


@dataclass
class Run:
    code: int
    output: str  # the terminal: stdout and stderr
    reports: Path
    verdict: dict  # the run's verdict file

    @property
    def page(self) -> Path:
        return Path(self.verdict["about"]["report"])

    def soup(self) -> BeautifulSoup:
        return BeautifulSoup(self.page.read_text(encoding="utf-8"), "html.parser")

    def banner(self) -> str:
        return self.soup().select_one(".c2-banner .c2-verdict").get_text()

    def rows(self) -> list[tuple[str, str]]:
        """(name, state word) of each checklist row, top to bottom."""
        return [(row.select_one(".c2-name").get_text(), row.select_one(".c2-badge").get_text())
                for row in self.soup().select(".c2-checklist .c2-row")]

    def row(self, name: str):
        return next(row for row in self.soup().select(".c2-checklist .c2-row")
                    if row.select_one(".c2-name").get_text() == name)

    def junit(self) -> ElementTree.Element:
        return ElementTree.parse(self.reports / "latest.xml").getroot()


def run_suite(reports: Path, *args: str, timeout: float = 180, **variables: str) -> Run:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--reports-dir={reports}", *args]
    environ = {name: value for name, value in os.environ.items() if not name.startswith("SMOKE_")} | variables
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=environ)
    output = done.stdout + done.stderr
    verdict_file = reports / "verdict.json"
    assert verdict_file.is_file(), f"the run left no verdict:\n{output}"
    return Run(done.returncode, output, reports, json.loads(verdict_file.read_text(encoding="utf-8")))


def env_file(path: Path, site: str, api: str, **settings) -> Path:
    """An environments file that points `local` at ``site`` and ``api``; host checks off."""
    lines = ["[environments.local]", f'site_url = "{site}"', f'api_url = "{api}"', "host_checks = false",
             f"chromium_args = [{json.dumps(NO_OUTSIDE)}]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def backend():
    """A loopback server with just enough of a backend: /health/live; other routes set by the test.

    ``backend.routes[path] = (status, headers, body)``; ``backend.url`` is its base URL.
    """
    live = json.dumps({"status": "alive", "service": "backend"}).encode()
    routes = {"/health/live": (200, {"content-type": "application/json", "x-care2-origin": "backend"}, live)}
    with serving(routes) as port:
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}", routes=routes)


def checks_module(folder: Path, source: str, **values) -> Path:
    """A check module of the test's own, run beside the real checks; ``$name`` takes ``repr(values[name])``."""
    path = folder / "test_extra_checks.py"
    text = Template(textwrap.dedent(source)).substitute({name: repr(value) for name, value in values.items()})
    path.write_text(text, encoding="utf-8")
    return path


def busy_png(number: int) -> bytes:
    """A 1280x800 page-like picture with text and colour blocks, as a walk step's screenshot."""
    picture = Image.new("RGB", (1280, 800), (246, 248, 250))
    draw = ImageDraw.Draw(picture)
    for row in range(24):
        draw.text((40, 30 + row * 30), f"Step {number} line {row}: CareConnect - Supporting Our Community",
                  fill=(31, 35, 40))
        draw.rectangle((700, 30 + row * 30, 700 + (row * 37 + number * 53) % 500, 50 + row * 30),
                       fill=((row * 40) % 256, (number * 60) % 256, 180))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------
# Whole runs


def test_nothing_listening_is_no_go_with_the_cause_and_the_fix_of_each_red_line(tmp_path):
    env = env_file(tmp_path / "env.toml", f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}")
    run = run_suite(tmp_path / "reports", "-m", "predemo and not browser", f"--env-file={env}")

    assert run.code == 1, run.output
    assert run.banner() == NO_GO
    names = [name for name, _ in run.rows()]
    steps = [step for name in names for step, listed in CHECKLIST.items() if listed == name]
    assert steps == sorted(steps) and names[:3] == ["Site reachable", "Tell Your Story page", "API health"]
    for name, state in run.rows():
        row = run.row(name)
        if state == "FAILED":  # the cause, or with several problems (check 5's parts) each of them
            cause, *problems = [part.get_text() for part in row.select(".c2-cause, .c2-detail")]
            assert "connection refused" in cause or problems and all("connection refused" in p for p in problems)
            assert row.select_one(".c2-fix").get_text().startswith("What to do:")
            # for whoever takes the red line to the code: the line that judged it
            judged = row.select_one(".c2-code").get_text()
            assert re.match(r"Judged in the suite's code at smoke/[\w/]+\.py:\d+ \(\w+\)", judged), judged
        elif state == "SKIPPED":
            assert row.select_one(".c2-result").get_text().startswith("Not checked:")
    missing = run.soup().select_one(".c2-missing").get_text()
    assert "The walk" in missing, "a line that did not run is named, not silently left out"

    written = sorted(path.name for path in run.reports.iterdir())
    stem = run.page.stem
    assert re.fullmatch(r"predemo-local-\d{8}-\d{6}", stem)
    assert written == sorted([f"{stem}.html", f"{stem}.xml", f"{stem}.json", "latest.html", "latest.xml",
                              "verdict.json", "history.jsonl"])
    assert (run.reports / "latest.html").read_bytes() == run.page.read_bytes()
    assert int(run.junit().find("testsuite").get("failures")) >= 5
    last = run.output.strip().splitlines()[-2:]
    assert last[0].startswith("NO-GO: failed: Site reachable, Tell Your Story page, API health")
    assert last[1] == f"report: {run.page}"


def test_healthy_stage_is_go_and_three_faults_are_no_go_naming_each_fix(tmp_path):
    marks = ("-m", "predemo and not browser and not host")
    with Stage(workdir=tmp_path / "healthy", pm2=False) as stage:  # no host check runs
        healthy = run_suite(tmp_path / "reports", *marks, f"--env-file={stage.env_file}")
    faults = {"db-down", "static-404-html", "cors-blocked"}
    with Stage(faults, workdir=tmp_path / "broken", pm2=False) as stage:
        broken = run_suite(tmp_path / "reports", *marks, f"--env-file={stage.env_file}")

    assert healthy.code == 0 and healthy.banner() == GO, healthy.output
    assert all(state == "OK" for name, state in healthy.rows() if name != "TLS"), healthy.rows()
    assert healthy.row("API health").select_one(".c2-result").get_text().startswith("API answered in ")
    requests = healthy.row("Site reachable").select(".c2-requests tr")
    assert len(requests) > 1 and "first byte" in requests[0].get_text().lower()

    assert broken.banner() == NO_GO, broken.output
    red = {name for name, state in broken.rows() if state == "FAILED"}
    assert red == {"Site reachable", "Tell Your Story page", "Database", "Frontend to backend"}, broken.rows()
    for name in red:
        assert broken.row(name).select(".c2-fix"), f"{name} says what to do"
    assert "CORS" in broken.row("Frontend to backend").get_text()
    assert broken.page != healthy.page and healthy.page.is_file(), "the first report is kept"
    # the history keeps each check's main request's time and its budget
    first, second = history.read(tmp_path / "reports" / history.FILE_NAME)
    (seconds, budget), = first.times["API health"].values()
    assert 0 < seconds < budget == 2.0 and "GET /health/live" in first.times["API health"]
    assert "API health" in second.times


def test_full_run_embeds_the_walks_screenshots_and_stays_under_2_mb(tmp_path, chromium):
    with Stage(workdir=tmp_path / "stage") as stage:
        run = run_suite(tmp_path / "reports", "-m", "predemo", f"--env-file={stage.env_file}")

    walk = run.row("The walk")
    images = walk.select(".c2-shot img")
    assert len(images) >= 3, run.output
    assert all(image["src"].startswith("data:image/jpeg;base64,") for image in images)
    assert [caption.get_text() for caption in walk.select("figcaption")][0].startswith("1.")
    assert run.page.stat().st_size < MAX_REPORT
    steps = history.read(run.reports / history.FILE_NAME)[-1].times["The walk"]  # each step's time and budget
    assert list(steps)[:3] == ["1. Home page", "2. Consent", "3. Recording"] and all(s > 0 for s, _ in steps.values())


def test_warnings_reruns_and_screenshots_make_go_with_warnings(tmp_path, backend):
    shots = tmp_path / "shots"
    shots.mkdir()
    for number in range(1, 9):
        (shots / f"{number}.png").write_bytes(busy_png(number))
    extra = checks_module(tmp_path, """
        from pathlib import Path

        import pytest

        from smoke.report import attach_screenshot

        pytestmark = pytest.mark.predemo
        TRIES = Path($tries)


        @pytest.mark.flaky(reruns=1)
        def test_tunnel_flaky(check):
            \"\"\"(6) Tunnel: passes on its second try.\"\"\"
            TRIES.write_text(TRIES.read_text() + "x" if TRIES.exists() else "x")
            if TRIES.read_text() == "x":
                check.fail("Tunnel: 0 of 4 connections", fix="restart cloudflared")
            check.passed("4 of 4 connections")


        def test_ports_warns(check):
            \"\"\"(8) Ports: everything listens.\"\"\"
            check.warn("only 1 of 4 tunnel connections")
            check.passed("every port answers")


        def test_the_walk(check, request):
            \"\"\"(10) The walk: home to profile.\"\"\"
            for number in range(1, 9):
                attach_screenshot(request, Path($shots, f"{number}.png").read_bytes(), f"{number}. Step {number}")
            check.passed("walked to the profile")
    """, tries=str(tmp_path / "tries"), shots=str(shots))
    env = env_file(tmp_path / "env.toml", backend.url, backend.url)
    run = run_suite(tmp_path / "reports", f"--env-file={env}", f"{WEB}::test_api_health", str(extra))

    assert run.code == 0, run.output
    assert run.banner() == GO_WITH_WARNINGS
    assert run.rows() == [("API health", "OK"), ("Tunnel", "WARNING"), ("Ports", "WARNING"), ("The walk", "OK")]
    notes = run.row("Tunnel").select_one(".c2-notes").get_text()
    assert "Retried: passed on try 2 of 2; try 1 failed: Tunnel: 0 of 4 connections" in notes
    assert "only 1 of 4 tunnel connections" in run.row("Ports").get_text()
    assert "look at Tunnel, Ports" in run.soup().select_one(".c2-say").get_text()
    properties = {prop.get("name"): prop.get("value") for prop in run.junit().iter("property")}
    assert properties.get("reruns") == "1"
    assert '"result": "Rerun"' in run.page.read_text().replace("&#34;", '"'), "pytest-html keeps the rerun row"

    images = run.row("The walk").select(".c2-shot img")
    assert len(images) == 8
    assert run.page.stat().st_size < MAX_REPORT


def test_no_secret_reaches_the_report_junit_terminal_or_trace(tmp_path, backend, chromium):
    """A secret listed in `secrets` and a token in an Authorization header, planted everywhere they can leak."""
    leak = f"upstream said: Authorization: Bearer {TOKEN}; password={SECRET}".encode()
    backend.routes["/health/live"] = (503, {"content-type": "text/plain"}, leak)
    page = f"<html><body><h1>{SECRET}</h1><input id=name></body></html>".encode()
    backend.routes["/leaky"] = (200, {"content-type": "text/html"}, page)
    extra = checks_module(tmp_path, """
        import logging
        import os

        import pytest

        pytestmark = pytest.mark.predemo
        HEADER = os.environ["C2C_TEST_HEADER"]  # a name that does not say "secret": only its shape gives it away


        def test_the_walk(page, target, check):
            \"\"\"(10) The walk: a page that shows the secret.\"\"\"
            page.set_extra_http_headers({"Authorization": HEADER})
            page.goto(target.api("/leaky"))
            page.fill("#name", $secret)
            print("typed", $secret, "with Authorization:", HEADER)
            logging.getLogger("walk").warning("cookie: session=" + HEADER.split()[1])
            check.fail("The walk: the page showed " + page.inner_text("h1"), fix="sent " + HEADER)
    """, secret=SECRET)
    api = backend.url.replace("http://", f"http://care2:{SECRET}@")
    env = env_file(tmp_path / "env.toml", backend.url, api, secrets=[SECRET])
    results = tmp_path / "test-results"
    run = run_suite(tmp_path / "reports", f"--env-file={env}", f"{WEB}::test_api_health", str(extra),
                    "--tracing=retain-on-failure", f"--output={results}", "-rA", C2C_TEST_HEADER=f"Bearer {TOKEN}")

    assert run.banner() == NO_GO, run.output
    assert MASK in run.row("API health").get_text() and MASK in run.output
    traces = sorted(run.reports.glob("*trace*.zip"))
    assert traces, f"the failed walk's trace is kept beside the report:\n{run.output}"
    assert run.row("The walk").select_one(".c2-traces a")["href"] == traces[0].name
    artifacts = {"terminal": run.output}
    for path in [*run.reports.iterdir(), *results.rglob("*.zip")]:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as trace:
                artifacts |= {f"{path.name}:{name}": trace.read(name).decode("latin-1") for name in trace.namelist()}
        else:
            artifacts[path.name] = path.read_text(encoding="utf-8")
    assert "history.jsonl" in artifacts  # the run's line in the history, which CI may publish
    assert any("Authorization" in text for name, text in artifacts.items() if name.endswith(".network")), \
        "the trace recorded the header (so its value was scrubbed, not just never there)"
    for secret in (SECRET, TOKEN):
        leaks = [name for name, text in artifacts.items() if secret in text]
        assert not leaks, f"{secret} leaked into {leaks}"


def test_a_crash_a_failed_cleanup_and_a_known_problem_are_never_a_plain_pass(tmp_path, backend):
    extra = checks_module(tmp_path, """
        import pytest

        pytestmark = pytest.mark.predemo


        @pytest.fixture
        def broken_cleanup():
            yield
            raise RuntimeError("cleanup broke")


        def test_crash(check):
            \"\"\"(6) Tunnel: crashes.\"\"\"
            None.upper()


        def test_cleanup(check, broken_cleanup):
            \"\"\"(8) Ports: passes, then its cleanup fails.\"\"\"
            check.passed("fine")


        @pytest.mark.xfail(reason="known microphone defect")
        def test_known(check):
            \"\"\"(9) Processes: a known defect.\"\"\"
            assert False
    """)
    env = env_file(tmp_path / "env.toml", backend.url, backend.url)
    run = run_suite(tmp_path / "reports", f"--env-file={env}", f"{WEB}::test_api_health", str(extra))

    assert run.banner() == NO_GO
    assert run.rows() == [("API health", "OK"), ("Tunnel", "FAILED"), ("Ports", "ERROR"), ("Processes", "WARNING")]
    assert "stopped on an error: AttributeError" in run.row("Tunnel").select_one(".c2-cause").get_text()
    assert "while cleaning up" in run.row("Ports").get_text()
    assert "known problem (known microphone defect): still there" in run.row("Processes").get_text()


def test_a_check_module_that_does_not_load_means_could_not_check(tmp_path, backend):
    broken = checks_module(tmp_path, "import pytest\npytestmark = pytest.mark.predemo\nimport no_such_module\n")
    env = env_file(tmp_path / "env.toml", backend.url, backend.url)
    run = run_suite(tmp_path / "reports", f"--env-file={env}", f"{WEB}::test_api_health", str(broken))

    assert run.code != 0
    assert run.banner() == COULD_NOT_CHECK
    assert "could not be loaded" in run.soup().select_one(".c2-say").get_text()
    assert "No module named 'no_such_module'" in run.soup().select_one(".c2-checklist").get_text()
    assert run.verdict["state"] == COULD_NOT_CHECK
    assert run.output.strip().splitlines()[-2].startswith("COULD NOT CHECK: the suite itself is broken")


def test_a_run_stopped_with_ctrl_c_could_not_check(tmp_path, backend):
    stopper = checks_module(tmp_path, """
        import pytest

        pytestmark = pytest.mark.predemo


        def test_the_walk():
            \"\"\"(10) The walk: the presenter pressed Ctrl-C here.\"\"\"
            raise KeyboardInterrupt
    """)
    env = env_file(tmp_path / "env.toml", backend.url, backend.url)
    run = run_suite(tmp_path / "reports", f"--env-file={env}", f"{WEB}::test_api_health", str(stopper))

    assert run.banner() == COULD_NOT_CHECK, run.output
    assert run.verdict["reason"] == "the run was stopped after 1 of 2 checks"
    assert run.rows() == [("API health", "OK"), ("The walk", "NOT RUN")]


def test_a_runner_without_network_could_not_check(tmp_path, backend):
    env = env_file(tmp_path / "env.toml", backend.url, backend.url)
    with env.open("a", encoding="utf-8") as more:
        more.write(f'[environments.local.runner]\nreference_url = "http://127.0.0.1:{free_port()}"\n')
    run = run_suite(tmp_path / "reports", "-m", "predemo and not browser", f"--env-file={env}")

    assert run.banner() == COULD_NOT_CHECK, run.output
    assert "own network does not work" in run.soup().select_one(".c2-say").get_text()
    assert {state for _, state in run.rows()} == {"SKIPPED"}


def test_old_reports_are_never_overwritten(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    now = datetime.now()
    taken = [reports / f"predemo-local-{now + timedelta(seconds=offset):%Y%m%d-%H%M%S}.html" for offset in range(8)]
    for path in taken:
        path.write_text("an earlier report", encoding="utf-8")
    env = env_file(tmp_path / "env.toml", f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}")
    run = run_suite(reports, f"--env-file={env}", f"{WEB}::test_api_health")

    assert all(path.read_text(encoding="utf-8") == "an earlier report" for path in taken)
    assert run.page not in taken and run.page.name.endswith("-2.html")
    assert (reports / "latest.html").read_bytes() == run.page.read_bytes()


def test_the_report_opens_in_chromium_with_the_verdict_on_top(tmp_path, chromium_browser):
    env = env_file(tmp_path / "env.toml", f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}")
    run = run_suite(tmp_path / "reports", "-m", "predemo and not browser", f"--env-file={env}")
    page = chromium_browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(run.page.as_uri())
    verdict = page.locator("#verdict").bounding_box()
    environment = page.locator("#environment").bounding_box()
    engineers = page.locator("#results-table tbody.results-table-row").count()
    page.close()
    assert not errors
    assert verdict["y"] < 120 and verdict["y"] < environment["y"], "the verdict is the first thing on the page"
    assert engineers >= 6, "pytest-html's own table still renders below"


# ---------------------------------------------------------------------------------------------------
# The parts


def test_redactor_scrubs_by_value_and_by_shape():
    redactor = Redactor(["hunter2"], environ={"CLOUDFLARE_API_TOKEN": "cf-abcdef123", "HOME": "/root"})
    said = redactor.text(
        "pw hunter2; token cf-abcdef123; Authorization: Basic dXNlcjpwYXNz; {'cookie': 'a=1; b=2'}; "
        "https://u:pass@host/x?token=abc&x=1; jwt eyJhbGciOiJI.eyJzdWIiOiIx.c2lnbmF0dXJl; home /root\n"
        "Set-Cookie: sid=xyz; Path=/"
    )
    for secret in ("hunter2", "cf-abcdef123", "dXNlcjpwYXNz", "a=1", "b=2", "sid=xyz", "pass@", "abc&",
                   "eyJhbGciOiJI"):
        assert secret not in said, said
    assert "home /root" in said and "x=1" in said
    plain = "Frontend /papi proxy without a session: expected 401, got 200; basic authentication is off"
    assert redactor.text(plain) == plain, "ordinary words stay"


def test_redactor_walks_pytest_failure_representations():
    redactor = Redactor(["hunter2"], environ={})

    @dataclass
    class Entry:
        lines: list
        where: tuple

    entry = Entry(["E  assert 'hunter2' == 'x'"], ("file.py", 3, "hunter2"))
    assert redactor.scrub(entry) is entry
    assert entry.lines == [f"E  assert '{MASK}' == 'x'"] and entry.where == ("file.py", 3, MASK)


def test_trace_redaction_rewrites_headers_bodies_and_typed_text(tmp_path):
    trace = tmp_path / "trace.zip"
    network = {"type": "resource-snapshot", "snapshot": {"request": {"headers": [
        {"name": "Authorization", "value": "Bearer abc"}, {"name": "Accept", "value": "*/*"}],
        "cookies": [{"name": "sid", "value": "c00kie"}]}}}
    with zipfile.ZipFile(trace, "w") as archive:
        archive.writestr("trace.network", json.dumps(network) + "\n")
        archive.writestr("trace.trace", json.dumps({"method": "fill", "params": {"value": "hunter2"}}) + "\n")
        archive.writestr("resources/page.html", "<h1>hunter2</h1>")
        archive.writestr("resources/shot.jpeg", b"\xff\xd8\xffhunter2\xff")
    Redactor(["hunter2"], environ={}).trace(trace)
    with zipfile.ZipFile(trace) as archive:
        texts = {name: archive.read(name) for name in archive.namelist()}
    assert b"Bearer abc" not in texts["trace.network"] and b"c00kie" not in texts["trace.network"]
    assert b'"*/*"' in texts["trace.network"]
    assert b"hunter2" not in texts["trace.trace"] + texts["resources/page.html"]
    assert texts["resources/shot.jpeg"] == b"\xff\xd8\xffhunter2\xff", "binary resources are left whole"


def test_screenshots_are_shrunk_to_small_jpegs():
    png = busy_png(1)
    jpeg = shrink(png)
    with Image.open(io.BytesIO(jpeg)) as picture:
        assert picture.format == "JPEG" and picture.width == IMAGE_WIDTH
    assert len(jpeg) < 100_000


def test_the_four_verdicts():
    def outcome(state, **more):
        return Outcome(f"t::{state}", state, state, name=state.title(), **more)

    assert decide([outcome("passed")]).state == GO
    assert decide([outcome("passed", warnings=["slow"])]).state == GO_WITH_WARNINGS
    assert decide([outcome("passed", retried=["passed on try 2 of 2"])]).state == GO_WITH_WARNINGS
    assert decide([outcome("passed"), outcome("failed")]).state == NO_GO
    assert decide([outcome("error")]).state == NO_GO
    assert decide([outcome("skipped")]).state == COULD_NOT_CHECK
    assert decide([outcome("failed")], "the runner has no network").state == COULD_NOT_CHECK
    verdict = decide([outcome("passed"), outcome("failed", message="down\n  fix: start it")])
    again = from_json(verdict.to_json({"environment": "local"}))
    assert again == verdict and again.headline() == "NO-GO: failed: Failed"


@pytest.mark.parametrize("doc, step, name, description", [
    ("(3) API health: the backend says it is alive.", 3, "API health", "the backend says it is alive."),
    ("(6) Tunnel process stable: connected.", 6, "Tunnel", "Tunnel process stable: connected."),
    ("Ports: each service listens on its port.", 8, "Ports", "each service listens on its port."),
    ("Dual stack: both 127.0.0.1 and ::1.", 0, "Dual stack", "both 127.0.0.1 and ::1."),
    (None, 0, "test_something", "test_something"),
])
def test_a_check_finds_its_checklist_line_in_its_docstring(doc, step, name, description):
    def check():
        pass

    check.__doc__ = doc
    item = SimpleNamespace(obj=check, name="test_something", nodeid="t.py::test_something")
    record = CheckRecord.of(item, 0)
    assert (record.outcome.step, record.outcome.name, record.description) == (step, name, description)


def test_a_template_cache_that_cannot_be_written_costs_only_the_compiling(tmp_path):
    """The compiled templates are kept where Jinja2 keeps them; a folder that cannot take them fails no page."""
    from jinja2 import Environment, FileSystemLoader

    from smoke.report import jinja

    unwritable = jinja.CompiledTemplates(str(tmp_path / "gone"))
    environment = Environment(loader=FileSystemLoader(jinja.TEMPLATES), bytecode_cache=unwritable)
    assert environment.get_template("watch.js").render(watch={"every_ms": 1000}).startswith("setTimeout(")
