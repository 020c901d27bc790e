"""care2-predemo watch against the stage: a fault switched on and off during the watch."""

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest

from fixtures.stage import PM2_APPS, Stage
from fixtures.stage import pm2 as stage_pm2
from smoke import history
from tests.conftest import ROOT

BACKEND = PM2_APPS["backend"][1]


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds:g} s for {what}"
        time.sleep(0.05)


def test_a_watch_without_alert_urls_says_so_once_after_its_first_run(tmp_path, unused_port):
    env_file = tmp_path / "env.toml"
    env_file.write_text(f'[environments.local]\nsite_url = "http://127.0.0.1:{unused_port}"\n'
                        f'api_url = "http://127.0.0.1:{unused_port}"\nhost_checks = false\n', encoding="utf-8")
    # the demo host: no CI around, no URLs
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith("SMOKE_") and name not in ("CI", "GITHUB_ACTIONS")}
    environ["SMOKE_ALERTS_STATE_FILE"] = str(tmp_path / "alert-state.json")
    done = subprocess.run(
        [sys.executable, "-m", "smoke.cli", "watch", "--every", "0s", "--runs", "2", f"--reports-dir={tmp_path}",
         "-m", "predemo and not browser and not host", f"--env-file={env_file}", "-p", "no:cacheprovider"],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=240)
    said = done.stdout.strip().splitlines()
    assert len(said) == 1 + 2 and ": NO-GO" in said[0] and ": NO-GO" in said[2], done.stdout + done.stderr
    assert said[1].endswith(" alerts off (nobody is told when the verdict changes): SMOKE_ALERT_URLS is not set: set "
                            "this environment variable on this machine to the apprise URLs to notify (slack://..., "
                            "msteams://..., mailtos://..., comma separated); then start the watch again"), said[1]
    assert "alert due" not in done.stdout


@pytest.mark.skipif(not stage_pm2.installed(), reason=stage_pm2.MISSING)
def test_a_watch_through_a_fault_and_back(tmp_path, recorder):
    reports = tmp_path / "reports"
    runs = reports / history.FILE_NAME
    environ = {name: value for name, value in os.environ.items() if not name.startswith("SMOKE_")}
    environ |= {"SMOKE_ALERT_URLS": f"json://{recorder.url.removeprefix('http://')}/hook",
                "SMOKE_ALERTS_STATE_FILE": str(tmp_path / "alert-state.json")}
    with Stage(workdir=tmp_path / "stage", pm2=True) as stage:
        watching = subprocess.Popen(
            [sys.executable, "-m", "smoke.cli", "watch", "--every", "6s", "--runs", "3", f"--reports-dir={reports}",
             f"--until={datetime.now() + timedelta(hours=2):%H:%M}",
             "-m", "predemo and not browser and not host", f"--env-file={stage.env_file}", "-p", "no:cacheprovider"],
            cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_for(lambda: len(history.read(runs)) == 1, 30, "the first run")
            stage._pm2("stop", BACKEND)  # the fault: the backend goes down between two runs
            wait_for(lambda: len(history.read(runs)) == 2, 30, "the second run")
            stage._pm2("start", BACKEND)
            said, _ = watching.communicate(timeout=60)
        finally:
            watching.kill()
    entries = history.read(runs)
    assert [entry.state for entry in entries] == ["GO", "NO-GO", "GO WITH WARNINGS"], said
    assert entries[1].red("API health") and "connection refused" in entries[1].checks["API health"][1]
    assert len(said.strip().splitlines()) == 3 + 2, said  # one line per run, one per alert
    assert watching.returncode == 0
    # the recovered run warns of what was red a moment ago, with the time
    verdict = json.loads((reports / "verdict.json").read_text(encoding="utf-8"))
    warned = {o["name"]: o["warnings"] for o in verdict["outcomes"] if o["warnings"]}
    assert f"flapped: red at {entries[1].clock} (green now; watch it)" in warned["API health"]
    assert verdict["reason"].startswith("passed, but look at: ") and "API health" in verdict["reason"]
    # exactly two alerts, on the changes: down, then recovered; the report goes along
    bodies = [json.loads(request.get_data()) for request in recorder.requests]
    assert [body["title"] for body in bodies] == ["Care2 local: NO-GO", "Care2 local: recovered, GO WITH WARNINGS"]
    assert "API health" in bodies[0]["message"] and bodies[0]["attachments"], bodies[0].keys()
    # the report shows each check's history as a strip, the run before in red
    page = (reports / "latest.html").read_text(encoding="utf-8")
    assert page.count('class="c2-strip"') >= 6 and "c2-cell c2-cell-fail" in page and "last 3 runs" in page
    # a page for a second screen: it says when the run ended, reloads itself, counts down to the demo
    assert "Watching: this run ended at" in page and "location.reload()" in page and 'class="c2-countdown"' in page
    # and links to every run so far (so do the strips), as a page the watch renders after each run
    assert '<a href="history.html">Every run so far</a>' in page and page.count('<a href="history.html" title=') >= 6
    assert "3 runs from" in (reports / history.PAGE_NAME).read_text(encoding="utf-8")
