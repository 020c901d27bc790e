"""A NO-GO on the demo host leaves an incident bundle beside its report: what an engineer asks for afterwards, every
secret scrubbed. Against the stage under its own PM2, with secrets planted where real ones turn up: a database
password in an app's log, a tunnel token in cloudflared's log and config."""

from __future__ import annotations

import zipfile

import pytest

from fixtures.stage import Stage
from fixtures.stage import pm2 as stage_pm2

PASSWORD = "Pl4nted-db-Passw0rd"
TOKEN = "eyJhIjoiUGxhbnRlZFR1bm5lbFRva2VuIiwicyI6Ik1UTTVPVEkzIn0="


@pytest.mark.skipif(not stage_pm2.installed(), reason=stage_pm2.MISSING)
def test_a_no_go_writes_a_scrubbed_bundle_the_report_links(tmp_path, run_predemo):
    with Stage(faults={"backend-down"}, workdir=tmp_path / "stage", pm2=True) as stage:
        logs = stage.workdir / "logs"
        with open(logs / "frontend.log", "a", encoding="utf-8") as log:
            log.write(f"DATABASE_URL=postgresql://care2:{PASSWORD}@localhost:5432/care2\n")
        with open(stage.workdir / "cloudflared" / "cloudflared.log", "a", encoding="utf-8") as log:
            log.write(f"2026-12-07T17:12:49Z INF Starting: cloudflared tunnel run --token {TOKEN}\n")
        config = stage.workdir / "cloudflared" / "config.yml"
        config.write_text(config.read_text() + f"token: {TOKEN}\n")
        run = run_predemo(stage.env_file, "local")
    assert run.returncode == 1, run.output
    bundles = list(run.reports.glob("incident-local-*.zip"))
    assert len(bundles) == 1, sorted(path.name for path in run.reports.iterdir())
    page = next(run.reports.glob("predemo-local-*.html")).read_text(encoding="utf-8")
    assert f'href="{bundles[0].name}"' in page
    with zipfile.ZipFile(bundles[0]) as bundle:
        members = {name: bundle.read(name) for name in bundle.namelist()}
    for expected in ("verdict.json", "report.html", "pm2-list.json", "listeners.txt", "cloudflared.txt",
                     "configs/config.yml", "logs/careconnect-frontend-prod-frontend.log",
                     "logs/cloudflared-PID-"):
        assert any(name.startswith(expected) for name in members), f"{expected} missing: {sorted(members)}"
    assert b"careconnect-frontend-prod" in members["pm2-list.json"]
    assert b"[redacted]" in members["configs/config.yml"]
    for name, data in members.items():
        for secret in (PASSWORD, TOKEN):
            assert secret.encode() not in data, f"{secret} in {name}"


def test_a_go_writes_no_bundle(healthy_stage, run_predemo):
    run = run_predemo(healthy_stage.env_file, "local")
    assert run.returncode == 0, run.output
    assert not list(run.reports.glob("incident-*.zip"))
