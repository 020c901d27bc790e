"""Alerts after a run: one after N NO-GO runs in a row, one on recovery, none when the runner could not check.

Delivery goes through apprise's ``json://`` to a webhook receiver on 127.0.0.1 (the ``recorder`` fixture).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.stage import Stage
from smoke import alerts
from smoke.alerts import ALERT, RECOVERY, Streak, next_streak
from smoke.probes import runner
from smoke.probes.runner import runner_problem
from smoke.target import Alerts, load_target
from smoke.verdict import COULD_NOT_CHECK, GO, NO_GO, Outcome, decide

ROOT = Path(__file__).parent.parent
API_DOWN = Outcome(
    "smoke/checks/test_web.py::test_api_health", "API health: the backend says it is alive, in time", "failed",
    message="API health: no answer: GET http://127.0.0.1:3001/health/live: connection refused\n"
            "  fix: start the backend",
    step=3, name="API health",
)
SITE_UP = Outcome("smoke/checks/test_web.py::test_site_reachable", "Site reachable", "passed", result="200 in 4 ms",
                  step=1, name="Site reachable")
TWICE = Alerts(after_failures=2, on_recovery=True, state_file="unused")


def test_streak_alerts_once_at_the_nth_failure_and_recovers_once():
    streak, sent = Streak(), []
    for state in (NO_GO, NO_GO, NO_GO, GO, GO, NO_GO):
        streak, kind = next_streak(streak, state, TWICE)
        sent.append(kind)
    assert sent == ["", ALERT, "", RECOVERY, "", ""]
    assert streak == Streak(1, False)


def test_could_not_check_leaves_the_streak_alone():
    assert next_streak(Streak(1, False), COULD_NOT_CHECK, TWICE) == (Streak(1, False), "")
    assert next_streak(Streak(5, True), COULD_NOT_CHECK, TWICE) == (Streak(5, True), "")


def test_no_recovery_message_unless_asked_or_after_an_alert():
    quiet = Alerts(after_failures=1, on_recovery=False, state_file="unused")
    assert next_streak(Streak(1, True), GO, quiet) == (Streak(), "")
    assert next_streak(Streak(1, False), GO, TWICE) == (Streak(), "")


class Runs:
    """``python -m smoke.alerts`` after successive runs against one environment, sharing a state file."""

    def __init__(self, tmp_path: Path, urls: str, after_failures: int = 2, reference_url: str = ""):
        self.tmp_path = tmp_path
        self.env_file = tmp_path / "envs.toml"
        self.env_file.write_text(
            '[environments.prod-stage]\nkind = "production"\nhost_checks = false\n'
            'site_url = "http://127.0.0.1:9"\napi_url = "http://127.0.0.1:9"\n'
            f'runner.reference_url = "{reference_url}"\n'
            f'[environments.prod-stage.alerts]\nafter_failures = {after_failures}\n'
            f'state_file = "{(tmp_path / "state" / "alerts.json").as_posix()}"\n'
        )
        self.summary = tmp_path / "summary.md"
        self.environ = {"SMOKE_ALERT_URLS": urls, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(self.summary),
                        "GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "care2/smoke",
                        "GITHUB_RUN_ID": "42"}
        self.verdict_file = tmp_path / "reports" / "verdict.json"
        self.verdict_file.parent.mkdir()

    @property
    def target(self):
        return load_target("prod-stage", self.env_file, {})

    def write_verdict(self, outcomes, problem: str = "") -> None:
        """As smoke.report writes it at the end of a run."""
        about = {"environment": "prod-stage", "report": "reports/latest.html"}
        self.verdict_file.write_text(decide(outcomes, problem).to_json(about))

    def after(self, outcomes, problem: str = "") -> int:
        self.write_verdict(outcomes, problem)
        return alerts.main([str(self.verdict_file), "--env-file", str(self.env_file)], self.environ)

    def state(self) -> dict:
        return json.loads((self.tmp_path / "state" / "alerts.json").read_text())["prod-stage"]


def posted(recorder) -> list[dict]:
    return [json.loads(request.get_data()) for request in recorder.requests if request.method == "POST"]


def test_one_alert_after_two_failed_runs_then_one_recovery(recorder, tmp_path):
    runs = Runs(tmp_path, f"json://{recorder.url.removeprefix('http://')}/hook")
    assert runs.after([API_DOWN, SITE_UP]) == 0
    assert posted(recorder) == [] and runs.state() == {"failures": 1, "alerted": False}
    assert runs.after([API_DOWN, SITE_UP]) == 0
    assert runs.after([API_DOWN, SITE_UP]) == 0
    [alert] = posted(recorder)
    assert recorder.requests[0].path == "/hook"
    assert alert["type"] == "failure" and alert["title"] == "Care2 prod-stage: NO-GO"
    assert "2 failed runs in a row" in alert["message"]
    assert "- API health: no answer: GET http://127.0.0.1:3001/health/live: connection refused" in alert["message"]
    assert "fix: start the backend" not in alert["message"]  # one line per failing check
    assert "Report: https://github.example/care2/smoke/actions/runs/42" in alert["message"]
    assert "Site reachable" not in alert["message"]

    assert runs.after([SITE_UP]) == 0
    assert runs.after([SITE_UP]) == 0
    [_, recovery] = posted(recorder)
    assert recovery["type"] == "success" and recovery["title"] == "Care2 prod-stage: recovered, GO"
    assert "prod-stage (http://127.0.0.1:9) recovered: GO: every pre-demo check passed" in recovery["message"]
    assert runs.state() == {"failures": 0, "alerted": False}
    summary = runs.summary.read_text()
    assert summary.count("## Care2 prod-stage: NO-GO") == 3 and "Alerts: alert sent" in summary
    assert "Alerts: recovery sent" in summary and "Alerts: none yet: 1 of 2 failed runs in a row" in summary


def test_dead_runner_network_is_could_not_check_and_alerts_nobody(recorder, tmp_path, unused_port):
    runs = Runs(tmp_path, f"json://{recorder.url.removeprefix('http://')}/hook", after_failures=1,
                reference_url=f"http://127.0.0.1:{unused_port}/generate_204")
    problem = runner_problem(runs.target)
    assert "this machine's own network does not work" in problem and "connection refused" in problem
    assert runs.after([API_DOWN], problem) == 0
    assert runs.after([API_DOWN], problem) == 0
    assert posted(recorder) == []
    assert runs.state() == {"failures": 0, "alerted": False}
    assert "## Care2 prod-stage: COULD NOT CHECK" in runs.summary.read_text()
    assert "Alerts: none: the target was not judged" in runs.summary.read_text()


def test_runner_with_a_working_network_has_no_problem(recorder, tmp_path):
    runs = Runs(tmp_path, "", reference_url=f"{recorder.url}/generate_204")
    assert runner_problem(runs.target) == ""
    [request] = recorder.requests
    assert (request.method, request.path, request.headers["x-c2c-test"]) == ("GET", "/generate_204", "1")


def test_a_target_on_this_machine_never_asks_an_outside_reference(monkeypatch):
    def no_request(*args, **kwargs):
        raise AssertionError("asked the outside reference for a stage on loopback")

    monkeypatch.setattr(runner.Client, "request", no_request)
    stage = load_target("production-ci", environ={"SMOKE_SITE_URL": "http://localhost:8443",
                                                  "SMOKE_API_URL": "http://127.0.0.1:8444"})
    assert stage.runner.reference_url.startswith("https://")  # the bundled one, not loopback
    assert runner_problem(stage) == ""


def test_an_alert_that_cannot_be_delivered_is_tried_again_next_run(recorder, tmp_path, unused_port, capsys):
    runs = Runs(tmp_path, f"json://127.0.0.1:{unused_port}/hook", after_failures=1)
    assert runs.after([API_DOWN]) == 1
    assert "alert due but not sent: apprise could not deliver" in capsys.readouterr().out
    assert runs.state() == {"failures": 1, "alerted": False}
    runs.environ["SMOKE_ALERT_URLS"] = f"json://{recorder.url.removeprefix('http://')}/hook"
    assert runs.after([API_DOWN]) == 0
    assert len(posted(recorder)) == 1 and runs.state() == {"failures": 2, "alerted": True}


@pytest.mark.parametrize(("urls", "problem"), [("", "SMOKE_ALERT_URLS is empty: add a secret named SMOKE_ALERT_URLS"),
                                                ("nonsense", "not an apprise URL")])
def test_alert_due_without_usable_urls_fails_and_names_the_variable(tmp_path, capsys, urls, problem):
    runs = Runs(tmp_path, urls, after_failures=1)
    assert runs.after([API_DOWN]) == 1
    out = capsys.readouterr().out
    assert problem in out
    assert runs.state() == {"failures": 1, "alerted": False}


@pytest.mark.parametrize(("environ", "words"), [
    ({}, "SMOKE_ALERT_URLS is not set: set this environment variable on this machine"),
    ({"SMOKE_ALERT_URLS": " "}, "SMOKE_ALERT_URLS is not set: set this environment variable on this machine"),
    ({"CI": "true"}, "SMOKE_ALERT_URLS is empty: add a secret named SMOKE_ALERT_URLS to the CI job"),
    ({"CI": "1"}, "SMOKE_ALERT_URLS is empty: add a secret named SMOKE_ALERT_URLS to the CI job"),
    ({"GITHUB_ACTIONS": "true", "SMOKE_ALERT_URLS": ""}, "SMOKE_ALERT_URLS is empty: add a secret"),
    ({"SMOKE_ALERT_URLS": "json://127.0.0.1:9/hook"}, ""),
])
def test_missing_urls_are_named_in_the_words_of_where_it_runs(environ, words):
    said = alerts.urls_missing(environ)
    assert said.startswith(words) and bool(said) == bool(words), said


def test_a_verdict_about_another_environment_is_refused(tmp_path, capsys):
    runs = Runs(tmp_path, "")
    runs.write_verdict([API_DOWN])
    assert alerts.main([str(runs.verdict_file), "--env", "production-ci"], runs.environ) == 2
    assert "is about 'prod-stage', not 'production-ci'" in capsys.readouterr().err


def test_the_report_is_named_outside_ci(tmp_path):
    about = {"report": "reports/predemo-local-20261127-160000.html"}
    assert alerts.report_location(about, tmp_path / "verdict.json", {}) == about["report"]
    assert alerts.report_location({}, tmp_path / "verdict.json", {}) == str(tmp_path.resolve())


def test_no_verdict_means_the_run_did_not_finish(tmp_path, capsys):
    runs = Runs(tmp_path, "")
    assert alerts.main([str(tmp_path / "missing.json"), "--env", "prod-stage", "--env-file", str(runs.env_file)],
                       runs.environ) == 1
    assert "the run did not finish" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()


def test_command_line_entry_point(recorder, tmp_path):
    """The command the CI job runs, as a process: exit status and what it prints."""
    runs = Runs(tmp_path, f"json://{recorder.url.removeprefix('http://')}/hook", after_failures=1)
    runs.write_verdict([API_DOWN])
    done = subprocess.run(
        [sys.executable, "-m", "smoke.alerts", str(runs.verdict_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, **runs.environ, "SMOKE_ENV_FILE": str(runs.env_file)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["prod-stage: NO-GO: failed: API health", "alerts: alert sent"]
    assert len(posted(recorder)) == 1


def test_stage_fault_alerts_once_after_two_runs_and_recovers_once(run_predemo, recorder, tmp_path, capsys):
    """The issue's "done when", as the CI job runs it, against the stage's production-like view: the
    report's verdict.json is what the alerts read (production-ci's outside reference is not asked for a
    stage on loopback)."""
    environ = {"SMOKE_ALERT_URLS": f"json://{recorder.url.removeprefix('http://')}/hook",
               "SMOKE_ALERTS_STATE_FILE": str(tmp_path / "alert-state.json"), "SMOKE_ALERTS_AFTER_FAILURES": "2"}
    for fault in ("backend-down", "backend-down", None):
        with Stage({fault} if fault else set(), pm2=False) as stage:  # production-ci: no host check
            run = run_predemo(stage.env_file, "production-ci")
            assert alerts.main([str(run.reports / "verdict.json"), f"--env-file={stage.env_file}"], environ) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("alerts:")]
    assert lines == ["alerts: none yet: 1 of 2 failed runs in a row", "alerts: alert sent", "alerts: recovery sent"], \
        f"the healthy run said:\n{run.output}"
    alert, recovery = posted(recorder)
    assert alert["title"] == "Care2 production-ci: NO-GO" and "- API health" in alert["message"]
    assert recovery["title"] == "Care2 production-ci: recovered, GO"
