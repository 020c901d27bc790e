"""Helpers for the suite's own tests: the suite run as a user runs it, free ports, misbehaving listeners."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from smoke.verdict import Verdict, from_json


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


@pytest.fixture
def recorder():
    """A loopback HTTP server that answers 200 to everything and keeps each request (a webhook receiver).

    ``recorder.url`` is its base URL; ``recorder.requests`` the requests seen, each with method, path,
    headers and body.
    """
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def _record(self):
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            seen.append(SimpleNamespace(method=self.command, path=self.path, headers=self.headers, body=body))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        do_GET = do_POST = do_PUT = do_OPTIONS = _record

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", requests=seen)
    server.shutdown()
    server.server_close()


ROOT = Path(__file__).parent.parent
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
    """One run of the suite: each check's state and message, the wall time, what it printed."""

    outcomes: dict[str, tuple[str, str]]  # check name without "test_" -> (passed|failed|error|skipped, message)
    seconds: float
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
        started = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180,
                              env={**os.environ, "SMOKE_REPORTS_DIR": str(reports)})
        seconds = time.monotonic() - started
        outcomes = {}
        for testcase in ElementTree.parse(junit).getroot().iter("testcase"):
            name = testcase.get("name").split("[")[0].removeprefix("test_")
            state, message = "passed", ""
            for child in testcase:
                if child.tag in ("failure", "error", "skipped"):
                    state = {"failure": "failed"}.get(child.tag, child.tag)
                    message = (child.get("message") or "") + "\n" + (child.text or "")
            outcomes[name] = (state, message)
        return Run(outcomes, seconds, done.stdout + done.stderr, reports, done.returncode)

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
