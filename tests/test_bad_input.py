"""Bad input at run time is one clear line in the check it breaks, and a red exit, never a traceback or a hang.

(Bad environments files and names are in test_target.py: they stop the run with a usage error.)
"""

import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest
from test_cli import SCRIPT, lines
from werkzeug import Response

from smoke.probes.http import Client, NoAnswer


def nowhere(tmp_path, unused_port, **extra: str) -> str:
    """An env file for a target where nothing listens, with ``extra`` lines in its table."""
    lines = [
        "[environments.nowhere]", 'kind = "local"',
        f'site_url = "http://127.0.0.1:{unused_port}"', f'api_url = "http://127.0.0.1:{unused_port}"',
        *[f"{key} = {value}" for key, value in extra.items()],
    ]
    path = tmp_path / "nowhere.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_unresolvable_host_is_named_as_such(monkeypatch):
    def no_such_host(*args, **kwargs):  # no lookup may leave this machine, so the resolver says no here
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    with pytest.raises(NoAnswer) as failure:
        Client(connect=1, read=1, retry_delay=0).get("http://api.care2connect.invalid/health/live")
    assert failure.value.kind == "dns" and failure.value.attempts == 1
    assert "host name does not resolve" in str(failure.value)


def test_missing_chromium_says_how_to_install_one(tmp_path, unused_port, run_predemo, monkeypatch):
    monkeypatch.setenv("SMOKE_CHROMIUM", str(tmp_path / "no-chromium"))
    run = run_predemo(nowhere(tmp_path, unused_port), "nowhere", "browser")
    state, message = run.outcomes["tell_your_story_walk"]
    assert state in ("failed", "error")
    assert "no-chromium does not exist" in message and "apt-get install chromium" in message
    assert "Traceback" not in run.output


def test_missing_pm2_is_a_red_processes_check(tmp_path, unused_port, run_predemo):
    env_file = nowhere(tmp_path, unused_port)
    with open(env_file, "a") as extra:
        extra.write(f'[environments.nowhere.pm2]\ncommand = ["{tmp_path}/no-pm2", "jlist"]\n')
    run = run_predemo(env_file, "nowhere", "host")
    state, message = run.outcomes["processes"]
    assert state == "failed" and "PM2 is not installed" in message, message
    assert "Traceback" not in run.output


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "does not exist"), ("ingress: [unclosed\n", "is not valid YAML")],
    ids=["missing", "malformed"],
)
def test_an_unreadable_cloudflared_config_is_named(tmp_path, unused_port, run_predemo, content, says):
    config = tmp_path / "config.yml"
    if content is not None:
        config.write_text(content)
    env_file = nowhere(tmp_path, unused_port)
    with open(env_file, "a") as extra:
        extra.write(f'[environments.nowhere.tunnel]\nconfig = "{config}"\n')
    run = run_predemo(env_file, "nowhere", "host")
    messages = " ".join(message for _, message in run.outcomes.values())
    assert f"cloudflared config {config} {says}" in messages, run.output
    assert "Traceback" not in run.output


@pytest.mark.skipif(sys.platform == "win32", reason="signals")
def test_everything_down_is_no_go(tmp_path, unused_port, run_predemo):
    run = run_predemo(nowhere(tmp_path, unused_port), "nowhere", "predemo and not browser")
    assert run.red() >= {"site_reachable", "api_health", "database"}
    assert "NO-GO" in run.output


def test_a_teardown_that_raises_at_the_end_still_leaves_the_verdict(tmp_path, unused_port, run_predemo, monkeypatch):
    """A hook of the session's end that raises (as a browser's teardown may after Ctrl-C) costs the page, never
    the verdict that watch and CI read."""
    (tmp_path / "breaks_at_the_end.py").write_text(
        "def pytest_sessionfinish(session):\n    raise RuntimeError('the browser connection is gone')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    run = run_predemo(nowhere(tmp_path, unused_port), "nowhere", "predemo and not browser", "-p", "breaks_at_the_end")
    assert run.verdict.state == "NO-GO", run.output


def test_a_malformed_mark_expression_is_one_line_and_exit_4(tmp_path, unused_port, run_predemo):
    run = run_predemo(nowhere(tmp_path, unused_port), "nowhere", "predemo and (")
    assert run.returncode == 4 and "Traceback" not in run.output, run.output
    assert "Wrong expression passed to '-m': predemo and (" in run.output


def test_a_body_that_never_ends_is_cut_at_the_size_cap(httpserver):
    endless = (b"<p>" + b"x" * 65536 for _ in iter(int, 1))  # iter(int, 1): without end
    httpserver.expect_request("/").respond_with_handler(lambda request: Response(endless, content_type="text/html"))
    answer = Client(connect=2, read=2, retry_delay=0, body_mb=1, body_seconds=60).get(httpserver.url_for("/"))
    assert answer.status == 200 and answer.body == b"", "a part of a page is never judged as the page"
    assert answer.unfinished.startswith("was still arriving after") and answer.unfinished.endswith(" MB")
    assert answer.endless("the home page").endswith("it never ends (a proxy or the app is stuck streaming)")


def test_a_body_that_trickles_on_is_cut_at_the_time_cap(httpserver):
    def trickle():
        while True:
            yield b"x"
            time.sleep(0.05)

    httpserver.expect_request("/").respond_with_handler(lambda request: Response(trickle(), content_type="text/html"))
    answer = Client(connect=2, read=2, retry_delay=0, body_mb=1, body_seconds=0.3).get(httpserver.url_for("/"))
    assert answer.body == b"" and re.fullmatch(r"was still arriving after \d+ ms and \d+ b", answer.unfinished)


# Every path the suite reads or writes: one line naming the path and the problem, exit 4, no traceback.
def no_traceback(run) -> None:
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output, run.output


def test_a_reports_folder_that_cannot_be_made_is_one_line_and_exit_4(tmp_path, unused_port, run_command):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = run_command(SCRIPT, f"--env-file={nowhere(tmp_path, unused_port)}", "--env", "nowhere", "-m",
                      "predemo and not browser and not host", SMOKE_REPORTS_DIR=str(blocker / "reports"))
    no_traceback(run)
    assert run.code == 4, run.output
    assert f"the reports folder {blocker / 'reports'} cannot be written: " in run.output
    assert "Not a directory" in run.output and "SMOKE_REPORTS_DIR" in run.output


def test_a_report_file_that_cannot_be_written_leaves_the_verdict_and_names_the_file(tmp_path, unused_port,
                                                                                     run_command):
    reports = tmp_path / "reports"
    (reports / "history.jsonl").mkdir(parents=True)  # the run's history is a folder: it cannot be written
    run = run_command(SCRIPT, f"--env-file={nowhere(tmp_path, unused_port)}", "--env", "nowhere", "-m",
                      "predemo and not browser and not host", SMOKE_REPORTS_DIR=str(reports))
    no_traceback(run)
    said = lines(run.stdout.decode())
    assert run.code == 4 and said[-3].startswith("NO-GO: "), run.output  # the checks ran: their verdict is told
    assert said[-2] == f"the report could not be written: {reports / 'history.jsonl'}: Is a directory", run.output
    assert said[-1].startswith("report: ") and run.verdict["state"] == "NO-GO"  # what could be written was


def test_a_traces_folder_that_cannot_be_made_is_one_line_and_exit_4(tmp_path, unused_port, run_command):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = run_command(SCRIPT, f"--env-file={nowhere(tmp_path, unused_port)}", "--env", "nowhere", "-m", "browser",
                      f"--output={blocker / 'traces'}")
    no_traceback(run)
    assert run.code == 4, run.output
    assert (f"the walk's folder for traces and screenshots (--output) {blocker / 'traces'} cannot be written: "
            in run.output), run.output


def test_an_environments_file_that_cannot_be_read_is_one_line_and_exit_4(tmp_path, run_command):
    folder = tmp_path / "envs.toml"
    folder.mkdir()
    run = run_command(SCRIPT, f"--env-file={folder}")
    no_traceback(run)
    assert (run.code, lines(run.stderr)) == (4, [f"care2-predemo: cannot read environments file {folder}: "
                                                 "Is a directory"])


def test_an_alert_state_that_cannot_be_kept_is_one_line_and_exit_4(tmp_path):
    verdict = tmp_path / "verdict.json"
    verdict.write_text(json.dumps({"state": "NO-GO", "reason": "x", "outcomes": [],
                                   "about": {"environment": "local"}}))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = subprocess.run([sys.executable, "-m", "smoke.alerts", str(verdict)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "SMOKE_ALERTS_STATE_FILE": str(blocker / "state.json")})
    assert "Traceback" not in done.stderr and done.returncode == 4, done.stderr
    assert lines(done.stderr) == [f"alerts: the alert state cannot be kept: {blocker}: File exists "
                                  "(alerts.state_file)"]
