"""Helpers for the suite's own tests: the suite run as a user runs it, free ports, misbehaving listeners."""

import ast
import contextlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from smoke.browser import NoBrowser, find_chromium
from smoke.probes.http import Client
from smoke.verdict import Verdict, from_json


@pytest.fixture(scope="session", autouse=True)
def reports_out_of_the_project(tmp_path_factory) -> Iterator[None]:
    """A run a test starts without saying where its reports go writes them here: the project's reports/ holds
    the user's own runs and history, which a self-test must not touch."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SMOKE_REPORTS_DIR", str(tmp_path_factory.mktemp("reports")))
        yield


@pytest.fixture
def unused_port() -> int:
    """A loopback port with nothing listening (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def hung_listener():
    """A listener that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """pytest-httpserver's server on 127.0.0.1 (its default, localhost, may be ::1 first), a free port."""
    return "127.0.0.1", 0


class Recorder:
    """A webhook receiver: 200 to every request (pytest-httpserver's ``httpserver``, which keeps them)."""

    def __init__(self, server: HTTPServer):
        self.server = server
        server.expect_request(re.compile(".*")).respond_with_data("")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def requests(self) -> list[Request]:
        """The requests seen, in order (werkzeug's: method, path, headers, get_data())."""
        return [request for request, _ in self.server.log]


@pytest.fixture
def recorder(httpserver: HTTPServer) -> Recorder:
    return Recorder(httpserver)


NOT_FOUND = (404, {"content-type": "text/plain"}, "404 page not found")


@contextlib.contextmanager
def serving(routes: dict[str, tuple[int, dict[str, str], str | bytes]], host: str = "127.0.0.1",
            ssl_context: ssl.SSLContext | None = None) -> Iterator[int]:
    """A loopback HTTP(S) server (pytest-httpserver) on ``host`` answering ``routes[path] = (status, headers,
    body)``, read at each request (a test may change them), 404 elsewhere; yields its port."""
    server = HTTPServer(host=host, port=0, ssl_context=ssl_context)

    def answer(request: Request) -> Response:
        status, headers, body = routes.get(request.path, NOT_FOUND)
        return Response(body, status, headers)

    server.expect_request(re.compile(".*")).respond_with_handler(answer)
    server.start()
    try:
        yield server.port
    finally:
        server.clear()
        server.stop()


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium the walk would drive (a test that needs one is skipped on a machine without)."""
    try:
        return str(find_chromium())
    except NoBrowser as error:
        pytest.skip(str(error))


@contextlib.contextmanager
def launched(chromium: str):
    """That Chromium under Playwright, headless, able to reach loopback only."""
    from playwright.sync_api import sync_playwright

    from fixtures.stage import CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def chromium_browser(chromium):
    """The walk's Chromium for a test's own page; ``.version`` for the messages of tests whose outcome may depend
    on the browser's version."""
    with launched(chromium) as browser:
        yield browser


@pytest.fixture(scope="session")
def chromium_version(chromium) -> str:
    """The walk's Chromium's version (a run of the suite launches its own), for the messages of tests whose
    outcome may depend on it: "Chromium 156.0.8078.129"."""
    with launched(chromium) as browser:
        return f"Chromium {browser.version}"


ROOT = Path(__file__).parent.parent
# The evidence line the walk's 500 brings on the demo host: the backend's error, and the story route's own line
STORY_ERROR_EVIDENCE = re.compile(
    r"backend log \(careconnect-backend-prod, \d\d:\d\d:\d\d\): Error creating story ticket: TypeError: Cannot "
    r"read properties of undefined \(reading 'create'\) at src/routes/story\.ts:39$", re.MULTILINE)
# A run that has not ended by then hangs: a few times the slowest run's target (30 s, every port hung). How
# fast runs really are is tools/benchmark.py's to measure, not a test's: a slow machine must not fail CI.
HANG_GUARD = 120
STAGE_ON_WINDOWS = ("the stage does not run on Windows yet: its cloudflared stand-in is a Python script started by "
                    "its #! line, which Windows cannot start")


@pytest.fixture(scope="module")
def healthy_stage(tmp_path_factory):
    """The stage, healthy, for the tests of one module (under PM2 when it is installed)."""
    if sys.platform == "win32":
        pytest.skip(STAGE_ON_WINDOWS)
    from fixtures.stage import Stage

    with Stage(workdir=tmp_path_factory.mktemp("stage") / "work") as running:
        yield running


@dataclass
class Run:
    """One run of the suite: each check's state and message, what it printed."""

    outcomes: dict[str, tuple[str, str]]  # check name without "test_" -> (passed|failed|error|skipped, message)
    output: str
    reports: Path
    returncode: int

    def red(self) -> set[str]:
        return {name for name, (state, _) in self.outcomes.items() if state in ("failed", "error")}

    def message(self, check: str) -> str:
        return self.outcomes[check][1]

    @property
    def verdict(self) -> Verdict:
        """The verdict the run wrote for the steps after it (reports/verdict.json)."""
        return from_json((self.reports / "verdict.json").read_text(encoding="utf-8"))


@pytest.fixture
def run_predemo(tmp_path):
    """Run ``pytest -m <marks>`` as a user would, against an env file, reports kept in tmp_path."""

    def run(env_file: Path, view: str, marks: str = "predemo and not browser", *extra: str) -> Run:
        reports = tmp_path / f"reports-{view}"
        junit = tmp_path / f"junit-{view}.xml"
        command = [sys.executable, "-m", "pytest", "-m", marks, f"--env-file={env_file}", "--env", view,
                   f"--junitxml={junit}", "-p", "no:cacheprovider", "-q", *extra]
        try:
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=HANG_GUARD,
                                  env={**os.environ, "SMOKE_REPORTS_DIR": str(reports)})
        except subprocess.TimeoutExpired:
            pytest.fail(f"the run hangs: no end after {HANG_GUARD} s ({' '.join(command)})")
        outcomes = {}
        for testcase in ElementTree.parse(junit).getroot().iter("testcase"):
            name = testcase.get("name").split("[")[0].removeprefix("test_")
            state, message = "passed", ""
            for child in testcase:
                if child.tag in ("failure", "error", "skipped"):
                    state = {"failure": "failed"}.get(child.tag, child.tag)
                    message = (child.get("message") or "") + "\n" + (child.text or "")
            outcomes[name] = (state, message)
        return Run(outcomes, done.stdout + done.stderr, reports, done.returncode)

    return run


@dataclass
class Finished:
    """A command run to its end: exit code, what it printed, the verdict file it wrote ({} when none)."""

    code: int
    stdout: bytes
    stderr: str
    verdict: dict

    @property
    def output(self) -> str:
        return self.stdout.decode("utf-8", errors="replace") + self.stderr

    @property
    def warnings(self) -> list[str]:
        return [warning for outcome in self.verdict.get("outcomes", []) for warning in outcome["warnings"]]


@pytest.fixture
def run_command(tmp_path):
    """Run ``command`` in the project folder as a user would (no SMOKE_* variable of ours), its reports in
    ``tmp_path/reports``; ``variables`` added to its environment."""

    def run(*command: str, **variables: str) -> Finished:
        reports = tmp_path / "reports"
        environ = {name: value for name, value in os.environ.items() if not name.startswith("SMOKE_")}
        done = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=240,
                              env=environ | {"SMOKE_REPORTS_DIR": str(reports)} | variables)
        verdict = reports / "verdict.json"
        written = json.loads(verdict.read_text(encoding="utf-8")) if verdict.is_file() else {}
        return Finished(done.returncode, done.stdout, done.stderr.decode("utf-8", errors="replace"), written)

    return run


CODE_LINE = re.compile(r"(smoke/[\w/]+\.py):(\d+) \((\w+)\)")


def names_its_code(where: str) -> bool:
    """Whether a red line's ``judged_at`` names a line inside the function it names, in the suite's code: one file
    to open."""
    named = CODE_LINE.fullmatch(where)
    if named is None or not (ROOT / named[1]).is_file():
        return False
    tree = ast.parse((ROOT / named[1]).read_text(encoding="utf-8"))
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == named[3]
               and node.lineno <= int(named[2]) <= node.end_lineno for node in ast.walk(tree))


@pytest.fixture
def sleeper():
    """A child process of this one that only sleeps: a live PID that listens on nothing."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield child
    child.kill()
    child.wait()


@pytest.fixture
def http():
    """The probes' HTTP client, with short timeouts and no retry wait (servers in tests answer at once or never)."""
    client = Client(connect=2, read=2, retry_delay=0)
    yield client
    client.close()
