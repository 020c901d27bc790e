"""The suite on Windows, as far as a Linux machine can tell: a pytest process without what Windows lacks
(tools/windowslike.py), pytest-timeout's thread method, and a console in cp1252."""

from __future__ import annotations

import ast
import runpy
import signal
import sys
from pathlib import Path

import pytest
from test_report import env_file  # `local` at a site and an API, host checks off

from fixtures.stage import Stage
from fixtures.stage import pm2 as stage_pm2
from smoke.verdict import COULD_NOT_CHECK, GO, GO_WITH_WARNINGS, NO_GO
from tests.conftest import serving

ROOT = Path(__file__).parent.parent
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
WINDOWS_LIKE = [sys.executable, str(ROOT / "tools" / "windowslike.py"), "-m", "pytest", "-p", "no:cacheprovider"]


def test_windows_like_predemo_against_the_stage_is_go(healthy_stage, run_command):
    run = run_command(*WINDOWS_LIKE, "-m", "predemo", f"--env-file={healthy_stage.env_file}")
    # another stage's cloudflared (a test run beside this one) is a warning, and only that may be one
    assert all("runs beside the named tunnel" in warning for warning in run.warnings), run.output
    assert (run.code, run.verdict["state"]) == (0, GO_WITH_WARNINGS if run.warnings else GO), run.output
    assert "timeout method: thread" in run.output  # pytest-timeout saw no SIGALRM, as on Windows


def test_windows_like_run_with_the_signal_method_stops_before_the_first_check(healthy_stage, run_command):
    """The pyproject as it landed (timeout_method = "signal"): what a new user on Windows saw."""
    run = run_command(*WINDOWS_LIKE, "-m", "predemo and not browser", f"--env-file={healthy_stage.env_file}",
                      "-o", "timeout_method=signal")
    assert "INTERNALERROR" in run.output and "no attribute 'SIGALRM'" in run.output, run.output
    assert (run.code != 0, run.verdict["state"]) == (True, COULD_NOT_CHECK)


def test_a_hung_target_is_a_written_no_go_with_the_thread_method(tmp_path, hung_listener, run_command):
    """The thread method ends the process without a report when it fires: the probes' bounds must come first."""
    hung = f"http://127.0.0.1:{hung_listener}"
    run = run_command(*PYTEST, "-m", "predemo", "-o", "timeout_method=thread",
                      f"--env-file={env_file(tmp_path / 'hung.toml', hung, hung)}")
    assert (run.code, run.verdict["state"]) == (1, NO_GO), run.output
    assert "timeout method: thread" in run.output and "Timeout (>" not in run.output  # it never fired
    assert (tmp_path / "reports" / "latest.html").is_file()


@pytest.fixture
def unicode_site():
    """A loopback site whose home page title holds characters cp1252 has no code for."""
    page = "<html><head><title>CareConnect ✓ 🎤 ≠</title></head><body><h1>Welcome ✓</h1></body></html>"
    with serving({"/": (200, {"content-type": "text/html; charset=utf-8"}, page)}) as port:
        yield f"http://127.0.0.1:{port}"


def test_output_survives_a_cp1252_console(tmp_path, unicode_site, run_command):
    """A Windows console or a redirect in cp1252 (PYTHONIOENCODING=cp1252), the target's own words quoted."""
    run = run_command(*PYTEST, "-m", "predemo and not browser",
                      f"--env-file={env_file(tmp_path / 'site.toml', unicode_site, unicode_site)}",
                      PYTHONIOENCODING="cp1252")
    lines = run.stdout.decode("cp1252").splitlines()
    assert any("\\u2713" in line for line in lines)  # the page title quoted, escaped where cp1252 has no code
    assert "UnicodeEncodeError" not in run.output and "INTERNALERROR" not in run.output, run.output
    assert (run.code, run.verdict["state"]) == (1, NO_GO)
    assert lines[-2].startswith("NO-GO") and lines[-1].startswith("report: ")


@pytest.mark.skipif(not stage_pm2.installed(), reason=stage_pm2.MISSING)
def test_windows_like_fix_starts_a_stopped_frontend(tmp_path, run_command):
    """`care2-predemo fix --yes` in a process without what Windows lacks: it runs the command it shows (the start of
    the frontend's PM2 app) and ends GO."""
    with Stage({"frontend-down"}, workdir=tmp_path / "stage", pm2=True) as stage:
        run = run_command(sys.executable, str(ROOT / "tools" / "windowslike.py"), "-m", "smoke.cli", "fix", "--yes",
                          f"--env-file={stage.env_file}", "-m", "predemo and not browser", "-p", "no:cacheprovider")
    said = run.stdout.decode()
    assert "runs:" in said and "--only careconnect-frontend-prod" in said and "run it? yes (--yes)" in said, said
    assert (run.code, run.verdict["state"].startswith("GO")) == (0, True), run.output


def test_the_suite_names_nothing_windows_lacks():
    """The windows-like run proves the paths a healthy stage takes; this reads every line of smoke/."""
    lacks = runpy.run_path(str(ROOT / "tools" / "windowslike.py"))
    missing = {"os": set(lacks["OS_FUNCTIONS"]), "signal": set(lacks["SIGNAL_FUNCTIONS"]) | {
        name for name in dir(signal) if name.startswith("SIG") and not name.startswith("SIG_")
        and name not in lacks["WINDOWS_SIGNALS"]}}
    found = []
    for path in sorted((ROOT / "smoke").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            named = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            if named and node.attr in missing.get(node.value.id, ()):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value.id}.{node.attr}")
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]
                found += [f"{path.relative_to(ROOT)}:{node.lineno} import {module}" for module in modules
                          if module in lacks["POSIX_MODULES"]]
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("/proc/"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value}")
    assert found == []
