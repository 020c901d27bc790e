"""care2-predemo --fallback: production and the local fallback in one run, one sentence for both (terminal, verdict
file, report banner, alert)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_cli import SCRIPT, lines

from fixtures.stage import Stage
from smoke import alerts
from smoke.alerts import Streak
from smoke.target import load_target
from smoke.verdict import Outcome, Verdict

WITHOUT_WALK = ("-m", "predemo and not browser", "-p", "no:cacheprovider")


@pytest.mark.skipif(sys.platform == "win32", reason="the stage does not run on Windows yet")
def test_production_no_go_while_the_local_fallback_is_go(tmp_path, run_command):
    """The edge sends the site to the backend: production is NO-GO, the site straight from the origins is not."""
    with Stage({"backend-welcome-on-site"}, workdir=tmp_path / "stage", pm2=False) as stage:
        run = run_command(SCRIPT, f"--env-file={stage.env_file}", "--env", "production", *WITHOUT_WALK)
        local = f"http://localhost:{stage.ports['frontend']}/tell-your-story"
    assert (run.code, run.verdict["state"]) == (1, "NO-GO"), run.output
    assert run.verdict["fallback"]["where"] == local and run.verdict["fallback"]["state"].startswith("GO")
    said = lines(run.stdout.decode())
    assert said[-2].startswith("NO-GO: failed: Site reachable") and "(5 failed" in said[-2]
    assert said[-2].endswith(f". Fallback {local}: {run.verdict['fallback']['state']} — present from there")
    page = Path(run.verdict["about"]["report"]).read_text(encoding="utf-8")
    assert f"Fallback {local}: {run.verdict['fallback']['state']} — present from there." in page
    assert Path(run.verdict["fallback"]["report"]).parent.name == "fallback"  # its own report, beside


@pytest.mark.skipif(sys.platform == "win32", reason="the stage does not run on Windows yet")
def test_neither_production_nor_the_fallback_carries_the_demo(tmp_path, run_command):
    with Stage({"backend-down"}, workdir=tmp_path / "stage", pm2=False) as stage:
        run = run_command(SCRIPT, f"--env-file={stage.env_file}", "--env", "production", *WITHOUT_WALK)
        local = f"http://localhost:{stage.ports['frontend']}/tell-your-story"
        alone = run_command(SCRIPT, f"--env-file={stage.env_file}", "--env", "production", "--fallback=",
                            *WITHOUT_WALK)
    assert (run.code, run.verdict["fallback"]["state"]) == (1, "NO-GO"), run.output
    assert lines(run.stdout.decode())[-2].endswith(f"Fallback {local}: NO-GO ({run.verdict['fallback']['reason']}) "
                                                   "— neither will carry the demo")
    # --fallback= switches it off for one run: production alone, as red, no word of a fallback
    assert (alone.code, alone.verdict["state"], alone.verdict["fallback"]) == (1, "NO-GO", {}), alone.output
    assert "Fallback" not in lines(alone.stdout.decode())[-2], alone.output


def test_the_alert_says_the_same():
    verdict = Verdict("NO-GO", "failed: Tunnel", [Outcome("t::tunnel", "Tunnel", "failed", message="Tunnel: 1033",
                                                          name="Tunnel")],
                      {"environment": "local", "where": "http://localhost:3000/tell-your-story", "state": "GO",
                       "reason": "every pre-demo check passed", "report": ""})
    title, body = alerts.message("alert", verdict, load_target("production"), Streak(2, False), "r.html")
    assert "Fallback http://localhost:3000/tell-your-story: GO — present from there." in body.splitlines()
    assert load_target("production").fallback == "local" and load_target("production-ci").fallback == ""
