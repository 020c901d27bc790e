"""Self-check of the local stage (fixtures/stage): it answers as shared/care2-target.md says, every
fault bites where the catalog says, and stopping it (or killing its owner) leaves no process behind."""

import json
import re
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import psutil
import pytest

from fixtures.stage import FAULTS, Stage

ROOT = Path(__file__).resolve().parents[1]
TEST = {"x-c2c-test": "1"}
CF_RAY = re.compile(r"^[0-9a-f]{16}-[A-Z]{3}$")


@pytest.fixture(scope="module")
def stage():
    with Stage() as running:
        yield running


@pytest.fixture(scope="module")
def http():
    with httpx.Client(trust_env=False, headers=TEST, timeout=5) as client:
        yield client


def url(stage, name, path=""):
    return f"http://localhost:{stage.ports[name]}{path}"


def accepts(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def test_env_file_points_at_the_stage(stage):
    env = tomllib.loads(stage.env_file.read_text())["environments"]
    assert env["local"]["site_url"] == url(stage, "frontend")
    assert env["local"]["api_url"] == url(stage, "backend")
    assert env["local"]["allow_writes"] is True
    assert env["production"]["site_url"] == url(stage, "edge_site")
    assert env["production"]["api_url"] == url(stage, "edge_api")
    assert env["production"]["allow_writes"] is False
    for view in ("local", "production"):
        ports = {"frontend": stage.ports["frontend"], "backend": stage.ports["backend"], "proxy": 0}
        assert env[view]["ports"] == ports
        assert env[view]["tunnel"]["metrics"] == f"127.0.0.1:{stage.ports['metrics']}"
        assert Path(env[view]["tunnel"]["config"]).is_file()
        assert json.loads(subprocess.run(env[view]["pm2"]["command"], capture_output=True, text=True).stdout) == []


def test_backend_health_and_identity(stage, http):
    port = str(stage.ports["backend"])
    live = http.get(url(stage, "backend", "/health/live"))
    assert live.status_code == 200
    assert live.headers["x-care2-origin"] == "backend" and live.headers["x-care2-port"] == port
    assert {"status": "alive", "service": "backend", "port": port}.items() <= live.json().items()
    db = http.get(url(stage, "backend", "/health/db"))
    assert db.status_code == 200 and db.json()["ready"] is True and db.json()["databaseUrl"] == "configured"
    ready = http.get(url(stage, "backend", "/health/ready"))
    assert ready.json() | {"timestamp": None} == {"status": "ready", "timestamp": None,
                                                   "services": {"database": True, "storage": True}}
    status = http.get(url(stage, "backend", "/health/status")).json()
    assert status["status"] == "ready" and status["services"]["db"] == {"ok": True, "detail": "Connected"}
    missing = http.get(url(stage, "backend", "/api/health"))
    assert missing.status_code == 404
    assert missing.json() == {"error": "Route not found", "message": "Cannot GET /api/health"}
    assert "<title>CareConnect System - Welcome</title>" in http.get(url(stage, "backend", "/")).text
    to_json = http.get(url(stage, "backend", "/"), headers={"accept": "application/json"})
    assert to_json.status_code == 302 and to_json.headers["location"] == "/health/status"


def test_frontend_pages_assets_and_proxies(stage, http):
    home = http.get(url(stage, "frontend", "/"))
    assert home.headers["x-care2-origin"] == "frontend"
    assert "microphone=(self)" in home.headers["permissions-policy"]
    assert "<title>CareConnect - Supporting Our Community</title>" in home.text
    assert "<h1>Welcome to CareConnect</h1>" in home.text and home.text.count('href="/tell-your-story"') == 1
    assets = re.findall(r'(?:src|href)="(/_next/static/[^"]+)"', home.text)
    assert len(assets) == 2
    for asset in assets:
        answer = http.get(url(stage, "frontend", asset))
        assert answer.status_code == 200
        assert answer.headers["content-type"].split(";")[0] in ("application/javascript", "text/css")
    story = http.get(url(stage, "frontend", "/tell-your-story")).text
    for needle in ("<h1>Before We Begin</h1>", 'id="consent"', 'id="public"', 'placeholder="Your name"',
                   'type="number" id="age"', 'placeholder="City, State"', '<option value="en" selected>',
                   "Back to Home", 'disabled>Continue to Recording</button>'):
        assert needle in story
    assert "data-testid" not in story
    live = http.get(url(stage, "frontend", "/health/live")).json()
    assert live["status"] == "alive" and live["message"] == "Frontend is running" and "service" not in live
    started = time.monotonic()
    papi = http.get(url(stage, "frontend", "/papi/sessions?limit=1"))
    assert papi.status_code == 401 and time.monotonic() - started < 2
    assert http.get(url(stage, "frontend", "/api/health/live")).headers["x-care2-origin"] == "backend"


def test_cors_allows_the_site_origins_only(stage, http):
    def preflight(origin):
        return http.options(url(stage, "backend", "/api/story/start"), headers={
            "origin": origin, "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,x-c2c-test"})

    allowed = preflight(url(stage, "frontend"))
    assert allowed.headers["access-control-allow-origin"] == url(stage, "frontend")
    assert "x-c2c-test" in allowed.headers["access-control-allow-headers"]
    assert "access-control-allow-origin" not in preflight(f"http://127.0.0.1:{stage.ports['frontend']}").headers


def test_story_api_runs_a_ticket_to_completion(stage, http):
    api = url(stage, "backend", "/api/story")
    start = http.post(f"{api}/start", json={"name": "Ana", "age": 30, "location": "Austin, TX", "language": "en"})
    ticket = start.json()["ticketId"]
    assert start.json()["success"] is True
    assert http.get(f"{api}/{ticket}/status").json()["status"] == "CREATED"
    upload = http.post(f"{api}/{ticket}/upload", files={"audio": ("story.webm", b"\x1aE\xdf\xa3", "audio/webm")},
                       data={"language": "en"})
    assert upload.json()["success"] is True
    seen, deadline = [], time.monotonic() + 3
    while time.monotonic() < deadline and (not seen or seen[-1] != "COMPLETED"):
        seen.append(http.get(f"{api}/{ticket}/status").json()["status"])
        time.sleep(0.1)
    assert seen[0] == "UPLOADING" and seen[-1] == "COMPLETED"
    assert http.get(url(stage, "backend", f"/api/tickets/{ticket}")).json()["name"] == "Ana"
    assert http.get(url(stage, "backend", "/api/tickets/nope")).status_code == 404


def test_edge_and_tunnel(stage, http):
    site = http.get(url(stage, "edge_site", "/"))
    assert site.headers["server"] == "cloudflare" and CF_RAY.match(site.headers["cf-ray"])
    assert site.headers["x-care2-origin"] == "frontend"
    assert http.get(url(stage, "edge_api", "/health/live")).headers["x-care2-origin"] == "backend"
    assert http.get(url(stage, "edge_site", "/"), headers={"host": "evil.example"}).status_code == 404
    ready = http.get(f"http://127.0.0.1:{stage.ports['metrics']}/ready")
    assert ready.status_code == 200 and ready.json()["readyConnections"] == 4
    assert "cloudflared_tunnel_ha_connections 4" in http.get(f"http://127.0.0.1:{stage.ports['metrics']}/metrics").text


def test_processes_look_like_the_real_ones(stage):
    tunnel = stage.processes["cloudflared"]
    assert tunnel.name() == "cloudflared"
    assert "tunnel --edge-ip-version 4" in " ".join(tunnel.cmdline())
    assert tunnel.cmdline()[-2:] == ["run", "care2connects-tunnel"]
    for name in ("frontend", "backend"):
        assert accepts("127.0.0.1", stage.ports[name]) and accepts("::1", stage.ports[name])


def test_stop_leaves_no_process_behind():
    stage = Stage().start()
    procs = list(stage.processes.values())
    stage.stop()
    assert not [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not stage.workdir.exists()


def test_killed_owner_leaves_no_orphans(tmp_path):
    script = (
        "import json, sys, time; from fixtures.stage import Stage; stage = Stage(workdir=sys.argv[1]).start(); "
        "print(json.dumps([p.pid for p in stage.processes.values()]), flush=True); time.sleep(60)"
    )
    owner = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    procs = [psutil.Process(pid) for pid in json.loads(owner.stdout.readline())]
    owner.kill()
    owner.wait()
    _, alive = psutil.wait_procs(procs, timeout=3)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def get(http, stage, name, path="/", **kwargs):
    return http.get(url(stage, name, path), **kwargs)


def assert_cf_error(answer, status, code):
    assert answer.status_code == status
    assert answer.headers["server"] == "cloudflare" and CF_RAY.match(answer.headers["cf-ray"])
    assert answer.headers["content-type"].startswith("text/html")
    details = answer.text.split('<div id="cf-error-details"', 1)[1]
    assert f"Error code {code}" in details
    assert 'id="cf-host-status" class="cf-error-source' in details


def assert_refused(stage, name):
    assert not accepts("127.0.0.1", stage.ports[name])


def assert_times_out(http, stage, name, path="/health/live"):
    with pytest.raises(httpx.ReadTimeout):
        get(http, stage, name, path, timeout=1)


def story_chunk(stage, http):
    page = get(http, stage, "frontend", "/tell-your-story").text
    return get(http, stage, "frontend", re.search(r'src="([^"]+\.js)"', page)[1])


def frontend_down(s, h):
    assert_refused(s, "frontend")
    assert_cf_error(get(h, s, "edge_site"), 502, 502)


def backend_down(s, h):
    assert_refused(s, "backend")
    assert_cf_error(get(h, s, "edge_api", "/health/live"), 502, 502)


def db_down(s, h):
    assert get(h, s, "backend", "/health/live").status_code == 200
    db = get(h, s, "backend", "/health/db")
    assert db.status_code == 503 and db.json()["ready"] is False and db.json()["error"]
    status = get(h, s, "backend", "/health/status")
    assert status.status_code == 200 and status.json()["status"] == "degraded"
    assert status.json()["services"]["db"]["ok"] is False


def tunnel_down(s, h):
    ready = h.get(f"http://127.0.0.1:{s.ports['metrics']}/ready")
    assert ready.status_code == 503 and ready.json()["readyConnections"] == 0
    assert_cf_error(get(h, s, "edge_site"), 530, 1033)


def origin_refused(s, h):
    assert_cf_error(get(h, s, "edge_site"), 502, 502)


def ipv6_only_dial(s, h):
    assert accepts("127.0.0.1", s.ports["frontend"]) and not accepts("::1", s.ports["frontend"])
    assert_cf_error(get(h, s, "edge_site"), 502, 502)


def port_drift(s, h):
    assert_refused(s, "backend")
    assert s.ports["backend_listen"] == s.ports["backend"] + 2
    live = get(h, s, "backend_listen", "/health/live")
    assert live.json()["port"] == live.headers["x-care2-port"] == str(s.ports["backend"])


def rogue_on_backend_port(s, h):
    assert get(h, s, "backend", "/health/live").headers["x-care2-origin"] == "frontend"
    assert s.ports["backend_listen"] == s.ports["backend"] + 1
    assert get(h, s, "backend_listen", "/health/live").headers["x-care2-origin"] == "backend"


def backend_welcome_on_site(s, h):
    assert "<title>CareConnect System - Welcome</title>" in get(h, s, "edge_site").text


def static_404_html(s, h):
    asset = story_chunk(s, h)
    assert asset.status_code == 404 and asset.headers["content-type"].startswith("text/html")


def api_base_3003(s, h):
    assert f'"localhost:{s.ports["frontend"]}": "http://localhost:{s.ports["dead"]}"' in story_chunk(s, h).text
    assert_refused(s, "dead")


def cors_blocked(s, h):
    answer = get(h, s, "backend", "/api/tickets/x", headers={"origin": url(s, "frontend")})
    assert "access-control-allow-origin" not in answer.headers


def mic_blocked(s, h):
    assert "microphone=()" in get(h, s, "frontend").headers["permissions-policy"]


def story_start_500(s, h):
    answer = h.post(url(s, "backend", "/api/story/start"), json={})
    assert answer.status_code == 500 and "prisma" in answer.json()["details"]


def processing_stuck(s, h):
    api = url(s, "backend", "/api/story")
    ticket = h.post(f"{api}/start", json={"language": "en"}).json()["ticketId"]
    h.post(f"{api}/{ticket}/upload", files={"audio": ("story.webm", b"x")}, data={"language": "en"})
    time.sleep(2.5)
    assert h.get(f"{api}/{ticket}/status").json() | {"ticketId": None} == {
        "ticketId": None, "status": "TRANSCRIBING", "progress": 30, "errors": [], "assetsReady": False}


def slow_health(s, h):
    assert_times_out(h, s, "backend")
    assert get(h, s, "backend", "/health/db").status_code == 200


def hang(s, h):
    assert_times_out(h, s, "frontend")
    assert_times_out(h, s, "backend")


# What the catalog says must be seen when a fault is on: one check per fault.
FAULT_CHECKS = {
    "frontend-down": frontend_down, "backend-down": backend_down, "db-down": db_down,
    "db-degraded-200": db_down, "tunnel-down": tunnel_down, "origin-refused": origin_refused,
    "ipv6-only-dial": ipv6_only_dial, "port-drift": port_drift, "rogue-on-backend-port": rogue_on_backend_port,
    "backend-welcome-on-site": backend_welcome_on_site, "static-404-html": static_404_html,
    "api-base-3003": api_base_3003, "cors-blocked": cors_blocked, "mic-blocked": mic_blocked,
    "story-start-500": story_start_500, "processing-stuck": processing_stuck, "slow-health": slow_health,
    "hang": hang,
}


def test_every_fault_has_a_check():
    assert FAULT_CHECKS.keys() == FAULTS.keys()


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault(fault, http):
    with Stage({fault}) as stage:
        FAULT_CHECKS[fault](stage, http)


def test_cli_lists_faults_rejects_unknown_ones_and_runs_a_command():
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "fixtures.stage", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=30)

    assert cli("faults").stdout.split()[0] == "frontend-down"
    unknown = cli("up", "--fault", "no-such-fault")
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1
    ran = cli("run", "--", sys.executable, "-c",
              "import os, sys; sys.exit(3 if os.environ['SMOKE_ENV_FILE'] == sys.argv[1] else 1)", "{env_file}")
    assert ran.returncode == 3, ran.stderr
