"""Self-check of the local stage (fixtures/stage): it answers as shared/care2-target.md says, every
fault bites where the catalog says, and stopping it (or killing its owner) leaves no process behind.

The HTTP-side tests run the stage without PM2 (pm2=False: quicker); the tests of PM2 itself, of
stopping and of the PM2 faults run it under PM2 and skip, naming the install command, without it.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
import pytest

from fixtures.stage import FAULTS, Stage, StageError
from fixtures.stage import caddy as stage_caddy
from fixtures.stage import pm2 as stage_pm2
from fixtures.stage.faults import NEEDS_CADDY, NEEDS_PM2
from smoke.probes.build import read as read_build
from smoke.probes.ports import listening_on

ROOT = Path(__file__).resolve().parents[1]
TEST = {"x-c2c-test": "1"}
CF_RAY = re.compile(r"^[0-9a-f]{16}-[A-Z]{3}$")
needs_pm2 = pytest.mark.skipif(not stage_pm2.installed(), reason=stage_pm2.MISSING)
needs_caddy = pytest.mark.skipif(stage_caddy.binary() is None, reason=stage_caddy.MISSING)
APPS = {"frontend": "careconnect-frontend-prod", "backend": "careconnect-backend-prod",
        "cloudflared": "care2connect-tunnel", "caddy": "care2connect-caddy"}
ROLES = ["frontend", "backend", "tunnel", "proxy"]


@pytest.fixture(scope="module")
def stage():
    with Stage(pm2=False) as running:
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
    assert sorted(env) == ["local", "production"] and stage.tls is None  # production-tls only with tls_days
    assert env["local"]["site_url"] == url(stage, "frontend")
    assert env["local"]["api_url"] == url(stage, "backend")
    assert env["local"]["allow_writes"] is True
    assert env["production"]["site_url"] == url(stage, "edge_site")
    assert env["production"]["api_url"] == url(stage, "edge_api")
    assert env["production"]["allow_writes"] is False
    for view in ("local", "production"):
        ports = {"frontend": stage.ports["frontend"], "backend": stage.ports["backend"],
                 "proxy": stage.ports.get("proxy", 0)}
        assert env[view]["ports"] == ports
        assert env[view]["tunnel"]["metrics"] == f"127.0.0.1:{stage.ports['metrics']}"
        assert Path(env[view]["tunnel"]["config"]).is_file()
        assert env[view]["tunnel"]["name"] == stage.tunnel_name
        # without PM2: nothing listed, and nothing expected in the list
        assert json.loads(subprocess.run(env[view]["pm2"]["command"], capture_output=True, text=True).stdout) == []
        assert sorted(env[view]["pm2"]["optional"]) == sorted(ROLES)


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
    assert "<h1>Welcome to<br><span" in home.text and home.text.count('href="/tell-your-story"') == 1
    assets = re.findall(r'(?:src|href)="(/_next/static/[^"]+)"', home.text)
    assert len(assets) == 3  # the stylesheet, the runtime chunk, the pages' own chunk
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


@needs_caddy
def test_a_real_caddy_routes_by_host_as_care2s_does(stage, http):
    """Caddy on the proxy port, from a Caddyfile shaped like Care2's; the tunnel's ingress names it for both hosts."""
    proxy = f"http://127.0.0.1:{stage.ports['proxy']}"
    site = http.get(f"{proxy}/", headers={"host": "care2connects.org"})
    assert site.headers["server"] == "Caddy" and site.headers["x-care2-origin"] == "frontend"
    api = http.get(f"{proxy}/health/live", headers={"host": "api.care2connects.org"})
    assert api.headers["x-care2-origin"] == "backend"
    other = http.get(f"http://[::1]:{stage.ports['proxy']}/", headers={"host": "evil.example"})
    assert (other.status_code, other.text) == (404, "Invalid hostname. Expected: care2connects.org or "
                                                    "api.care2connects.org")
    caddyfile = (stage.workdir / "Caddyfile").read_text()
    for line in ("admin off", "auto_https off", "@frontend host care2connects.org", "health_uri /health/live",
                 "health_interval 10s", "header_up Host {host}", f"reverse_proxy 127.0.0.1:{stage.ports['frontend']}"):
        assert line in caddyfile
    ingress = (stage.workdir / "cloudflared" / "config.yml").read_text()
    assert ingress.count(f"service: {proxy}") == 2
    # the process listening is Caddy itself, run by the tether that ends it with the owner (no PM2 here)
    (holder,) = {listener.pid for listener in listening_on(stage.ports["proxy"])}
    assert psutil.Process(holder).name() == "caddy" and psutil.Process(holder).ppid() == stage.processes["caddy"].pid
    assert (stage.workdir / "caddy" / "caddy" / "autosave.json").is_file()  # its own XDG dirs, not the user's


def test_a_stage_without_caddy_says_so_and_routes_as_before(monkeypatch, capsys):
    monkeypatch.setattr(stage_caddy, "binary", lambda: None)
    with Stage(pm2=False) as stage:
        assert capsys.readouterr().err.strip() == (f"stage: {stage_caddy.MISSING}; the edge routes to the apps "
                                                   "itself (ports.proxy = 0)")
        assert "proxy" not in stage.ports and "caddy" not in stage.processes
        env = tomllib.loads(stage.env_file.read_text())["environments"]["production"]
        assert env["ports"]["proxy"] == 0
        with httpx.Client(trust_env=False, headers=TEST) as http:
            assert get(http, stage, "edge_site").headers["x-care2-origin"] == "frontend"
    with pytest.raises(StageError, match=re.escape(stage_caddy.MISSING)):
        Stage({"caddy-down"})


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
    assert tunnel.cmdline()[-2:] == ["run", stage.tunnel_name]
    assert stage.tunnel_name.startswith("care2connects-tunnel")
    # as Care2's: `next start` listens on both loopback addresses, the backend on IPv4 only
    assert accepts("127.0.0.1", stage.ports["frontend"]) and accepts("::1", stage.ports["frontend"])
    assert accepts("127.0.0.1", stage.ports["backend"]) and not accepts("::1", stage.ports["backend"])
    # as `tsx src/server.ts`: the backend process started is not the listener, its child is
    (holder,) = listening_on(stage.ports["backend"])
    assert [child.pid for child in stage.processes["backend"].children()] == [holder.pid]


def test_the_frontend_runs_in_its_build_folder_and_applies_its_rewrite(stage, http):
    """As `next start`: the frontend's working folder holds Next's build, whose routes manifest is the rewrite it
    applies (shared/care2-target.md; the manifest's shape is the real app's), and its log says it is ready."""
    (holder,) = [listener for listener in listening_on(stage.ports["frontend"]) if listener.pid]
    assert psutil.Process(holder.pid).cwd() == str(stage.frontend_folder)
    build = read_build(str(stage.frontend_folder))
    assert len(build.build_id) == 21 and build.built <= time.time()
    (rewrite,) = build.rewrites
    assert (rewrite.source, rewrite.destination) == ("/api/:path*", f"http://localhost:{stage.ports['backend']}/api/:path*")
    assert rewrite.applies_to("/api/c2c-smoke-rewrite-probe") and not rewrite.applies_to("/apiary")
    answer = get(http, stage, "frontend", "/api/c2c-smoke-rewrite-probe")
    assert answer.headers["x-care2-origin"] == "backend" and answer.status_code == 404
    # run from there, it still logs where the stage keeps its logs, in Next's words
    assert " ✓ Ready in " in (stage.workdir / "logs" / "frontend.log").read_text(encoding="utf-8")


def test_pages_have_the_real_shapes(stage, http):
    """Where the suite reads markup and code, the stage has the real app's shapes (shared/care2-target.md)."""
    home = http.get(url(stage, "frontend", "/")).text
    assert "<h1>Welcome to<br><span" in home  # the words a person reads are split by markup
    chunk = story_chunk(stage, http).text
    frontend = stage.ports["frontend"]
    # several API bases, one picked by the page's host, the configured one among them as a fallback
    assert f'if (host === "localhost:{frontend}"' in chunk
    assert '"https://api.care2connects.org"' in chunk
    assert f'return "http://localhost:{stage.ports["backend"]}/api";' in chunk


@needs_pm2
def test_apps_run_under_the_stages_own_pm2():
    with Stage(pm2=True) as stage:
        env = tomllib.loads(stage.env_file.read_text())["environments"]["local"]
        listed = stage.jlist()
        assert sorted(listed) == sorted(APPS.values())
        for name, app in APPS.items():
            assert listed[app]["pm2_env"]["status"] == "online" and listed[app]["monit"]["memory"] > 1000
            assert listed[app]["pid"] == stage.processes[name].pid
            assert stage.processes[name].ppid() == stage.processes["pm2"].pid  # the daemon runs it
        for name in ("frontend", "backend"):
            held = {c.laddr.port for process in (stage.processes[name], *stage.processes[name].children())
                    for c in process.net_connections() if c.status == psutil.CONN_LISTEN}  # the backend's child
            assert held == {stage.ports[name]} and listed[APPS[name]]["pm2_env"]["PORT"] == str(stage.ports[name])
        # its own daemon, in its own PM2_HOME
        assert (stage.pm2_home / "pm2.pid").read_text().strip() == str(stage.processes["pm2"].pid)
        assert stage_pm2.is_daemon_of(stage.processes["pm2"].cmdline(), stage.pm2_home)
        # the env file's pm2.command is the real `pm2 jlist` of that home; the ecosystem file names the apps
        assert env["pm2"]["command"] == stage_pm2.command(stage.pm2_home, "jlist") and env["pm2"]["optional"] == []
        seen = json.loads(subprocess.run(env["pm2"]["command"], capture_output=True, text=True, check=True).stdout)
        assert {app["name"]: app["pid"] for app in seen} == {app: listed[app]["pid"] for app in listed}
        ecosystem = json.loads(Path(env["app_config"]["ecosystem"]).read_text())
        assert sorted(app["name"] for app in ecosystem["apps"]) == sorted(APPS.values())


def test_a_stage_without_pm2_says_so(monkeypatch, capsys):
    monkeypatch.setattr(stage_pm2, "PM2_SCRIPT", Path("/nonexistent/pm2"))
    assert Stage().pm2 is False
    assert capsys.readouterr().err.strip() == f"stage: {stage_pm2.MISSING}; its apps run as plain processes"
    with pytest.raises(StageError, match=re.escape(stage_pm2.MISSING)):
        Stage(pm2=True)
    with pytest.raises(StageError, match=re.escape(stage_pm2.MISSING)):
        Stage({"pm2-zombie"})
    with pytest.raises(ValueError, match="need the stage's PM2"):
        Stage({"pm2-zombie"}, pm2=False)


@needs_pm2
def test_the_pm2_command_never_revives_a_finished_stage(tmp_path):
    gone = tmp_path / "gone" / "pm2"
    done = subprocess.run(stage_pm2.command(gone, "jlist"), capture_output=True, text=True, timeout=10)
    assert done.returncode == 1 and done.stdout == "" and str(gone) in done.stderr
    assert not gone.exists()


@pytest.mark.parametrize("pm2", [pytest.param(True, marks=needs_pm2), False], ids=["pm2", "plain"])
def test_stop_leaves_no_process_behind(pm2):
    stage = Stage(pm2=pm2).start()
    procs = [proc for root in stage.processes.values() for proc in (root, *root.children(recursive=True))]
    stage.stop()
    assert not [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not stage.workdir.exists()


@pytest.mark.parametrize("pm2", [pytest.param(True, marks=needs_pm2), False], ids=["pm2", "plain"])
def test_killed_owner_leaves_no_orphans(pm2):
    script = (
        "import json, sys, time; from fixtures.stage import Stage; "
        "stage = Stage(pm2=sys.argv[1] == 'pm2').start(); "
        "procs = [p for root in stage.processes.values() for p in (root, *root.children(recursive=True))]; "
        "print(json.dumps([str(stage.workdir), [p.pid for p in procs]]), flush=True); time.sleep(60)"
    )
    owner = subprocess.Popen([sys.executable, "-c", script, "pm2" if pm2 else "plain"], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    workdir, pids = json.loads(owner.stdout.readline())  # a short temporary path, as `python -m fixtures.stage` has
    procs = [psutil.Process(pid) for pid in pids]
    owner.kill()
    owner.wait()
    try:
        _, alive = psutil.wait_procs(procs, timeout=5)
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_the_reaper_knows_its_daemon_by_its_title():
    home = Path("/tmp/care2-stage-abc/pm2")
    assert stage_pm2.is_daemon_of(["PM2 v7.0.4: God Daemon (/tmp/care2-stage-abc/pm2)", "", ""], home)  # padded
    assert stage_pm2.is_daemon_of(["PM2 v7.0.4: God Daemon (/tmp/care2-sta"], home)  # cut to node's argv
    assert not stage_pm2.is_daemon_of(["PM2 v7.0.4: God Daemon (/tmp/care2-stage-xyz/pm2)"], home)
    assert not stage_pm2.is_daemon_of(["PM2 v7.0.4: God Daemon ("], home)
    assert not stage_pm2.is_daemon_of(["python3", "-m", "http.server"], home)


def get(http, stage, name, path="/", **kwargs):
    return http.get(url(stage, name, path), **kwargs)


def assert_cf_error(answer, status, code):
    assert answer.status_code == status
    assert answer.headers["server"] == "cloudflare" and CF_RAY.match(answer.headers["cf-ray"])
    assert answer.headers["content-type"].startswith("text/html")
    details = answer.text.split('<div id="cf-error-details"', 1)[1]
    assert f"Error code {code}" in details
    assert 'id="cf-host-status" class="cf-error-source' in details


def assert_origin_error(stage, answer):
    """What the edge answers when the app behind the origin is down: Caddy's own 503 (its health check found the
    app down), passed on as Cloudflare passes an origin's error; without Caddy, Cloudflare's own 502 page."""
    if "proxy" not in stage.ports:
        return assert_cf_error(answer, 502, 502)
    assert answer.status_code == 503 and answer.content == b""
    assert answer.headers["server"] == "cloudflare" and CF_RAY.match(answer.headers["cf-ray"])


def caddy_answer(http, stage, host, path="/"):
    return http.get(f"http://127.0.0.1:{stage.ports['proxy']}{path}", headers={"host": host})


def assert_refused(stage, name):
    assert not accepts("127.0.0.1", stage.ports[name])


def assert_times_out(http, stage, name, path="/health/live"):
    with pytest.raises(httpx.ReadTimeout):
        get(http, stage, name, path, timeout=1)


def story_chunk(stage, http):
    page = get(http, stage, "frontend", "/tell-your-story").text
    return get(http, stage, "frontend", re.search(r'src="([^"]+/chunks/app-[^"]+\.js)"', page)[1])


def chunk_missing(s, h):
    page = get(h, s, "frontend", "/").text
    runtime, chunk = re.findall(r'src="([^"]+\.js)"', page)
    assert get(h, s, "frontend", runtime).status_code == 200
    answer = get(h, s, "frontend", chunk)
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/html")


def frontend_down(s, h):
    assert_refused(s, "frontend")
    assert_origin_error(s, get(h, s, "edge_site"))


def backend_down(s, h):
    assert_refused(s, "backend")
    assert_origin_error(s, get(h, s, "edge_api", "/health/live"))


def caddy_down(s, h):
    assert_refused(s, "proxy")
    assert_cf_error(get(h, s, "edge_site"), 502, 502)  # cloudflared's origin refuses: Cloudflare's own page
    assert_cf_error(get(h, s, "edge_api", "/health/live"), 502, 502)


def caddy_wrong_route(s, h):
    assert_refused(s, "dead")
    site = caddy_answer(h, s, "care2connects.org")
    assert site.status_code in (502, 503) and site.headers["server"] == "Caddy" and site.content == b""
    assert f"reverse_proxy 127.0.0.1:{s.ports['dead']}" in (s.workdir / "Caddyfile").read_text()
    assert caddy_answer(h, s, "api.care2connects.org", "/health/live").headers["x-care2-origin"] == "backend"


def caddy_no_site(s, h):
    site = caddy_answer(h, s, "care2connects.org")
    assert (site.status_code, site.text) == (404, "Invalid hostname. Expected: care2connects.org or "
                                                  "api.care2connects.org")
    assert get(h, s, "edge_site").status_code == 404  # passed on by the edge
    assert caddy_answer(h, s, "api.care2connects.org", "/health/live").headers["x-care2-origin"] == "backend"


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


# cloudflared's own words for it (proxy/proxy.go), each failed request logged twice, in its config's logfile:
ORIGIN_ERROR = ('ERR  error="Unable to reach the origin service. The service may be down or it may not be responding '
                'to traffic from cloudflared: dial tcp {address}: connect: connection refused" cfRay=')


def tunnel_log(s) -> str:
    return (s.workdir / "cloudflared" / "cloudflared.log").read_text(encoding="utf-8")


def origin_refused(s, h):
    assert_cf_error(get(h, s, "edge_site"), 502, 502)
    assert ORIGIN_ERROR.format(address=f"127.0.0.1:{s.ports['dead']}") in tunnel_log(s)
    assert "ERR Request failed error=\"Unable to reach the origin service." in tunnel_log(s)


def origin_errors_logged(s, h):
    assert get(h, s, "edge_site").status_code == 200  # the tunnel works now
    logged = [line for line in tunnel_log(s).splitlines() if "Unable to reach the origin service" in line]
    origin = s.ports["proxy"] if s.caddy else s.ports["frontend"]  # the site's ingress service: Caddy where it runs
    assert len(logged) == 6 and all(ORIGIN_ERROR.format(address=f"[::1]:{origin}") in line
                                    for line in logged[::2])
    stamps = {datetime.strptime(line[:20], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() for line in logged}
    # a quarter of an hour before cloudflared wrote them, as it started (not before now: the stage takes its time)
    started = s.processes["cloudflared"].create_time()
    assert all(13 * 60 < started - stamp < 17 * 60 for stamp in stamps), (started, sorted(stamps))


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
    chunk = story_chunk(s, h).text
    assert f'if (host === "localhost:{s.ports["frontend"]}"' in chunk
    assert f'return "http://localhost:{s.ports["dead"]}";' in chunk
    assert f'return "http://localhost:{s.ports["backend"]}/api";' in chunk  # the configured API is in the code too
    assert_refused(s, "dead")


def cors_blocked(s, h):
    answer = get(h, s, "backend", "/api/tickets/x", headers={"origin": url(s, "frontend")})
    assert "access-control-allow-origin" not in answer.headers


def mic_blocked(s, h):
    assert "microphone=()" in get(h, s, "frontend").headers["permissions-policy"]


def story_start_500(s, h):
    answer = h.post(url(s, "backend", "/api/story/start"), json={})
    assert answer.status_code == 500
    assert answer.json() == {"error": "Failed to create story ticket",
                             "message": "Cannot read properties of undefined (reading 'create')"}


def processing_stuck(s, h):
    api = url(s, "backend", "/api/story")
    ticket = h.post(f"{api}/start", json={"language": "en"}).json()["ticketId"]
    h.post(f"{api}/{ticket}/upload", files={"audio": ("story.webm", b"x")}, data={"language": "en"})
    time.sleep(2.5)
    assert h.get(f"{api}/{ticket}/status").json() | {"ticketId": None} == {
        "ticketId": None, "status": "TRANSCRIBING", "progress": 30, "errors": [], "assetsReady": False}


def db_hang(s, h):
    assert get(h, s, "backend", "/health/live").status_code == 200
    assert_times_out(h, s, "backend", "/health/status")
    assert_times_out(h, s, "backend", "/health/db")


def slow_health(s, h):
    assert_times_out(h, s, "backend")
    assert get(h, s, "backend", "/health/db").status_code == 200


def page_endless(s, h):
    """The pages answer 200 with their head, then a body that goes on past any cap (read here up to 4 MB)."""
    for path in ("/", "/tell-your-story"):
        with h.stream("GET", url(s, "frontend", path)) as answer:
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
            read = b""
            for chunk in answer.iter_bytes():
                read += chunk
                if len(read) > 4 * 2**20:
                    break
            assert len(read) > 4 * 2**20 and b"<title>" in read[:4096]


def hang(s, h):
    assert_times_out(h, s, "frontend")
    assert_times_out(h, s, "backend")


def pm2_zombie(s, h):
    env = tomllib.loads(s.env_file.read_text())["environments"]["local"]
    listed = json.loads(subprocess.run(env["pm2"]["command"], capture_output=True, text=True, check=True).stdout)
    shown = {app["name"]: app for app in listed}
    backend = shown[APPS["backend"]]
    assert (backend["pid"], backend["monit"]["memory"], backend["pm2_env"]["status"]) == (
        stage_pm2.DEAD_PID, 0, "online")
    assert not psutil.pid_exists(stage_pm2.DEAD_PID)
    real = s.jlist()
    assert real[APPS["backend"]]["pid"] == s.processes["backend"].pid  # the backend itself runs on
    assert shown[APPS["frontend"]]["pid"] == real[APPS["frontend"]]["pid"]


def pm2_restart_loop(s, h):
    caddy = s.jlist()["care2connect-caddy"]["pm2_env"]
    assert caddy["restart_time"] >= 2 and caddy["unstable_restarts"] >= 1
    time.sleep(1.2)
    assert s.jlist()["care2connect-caddy"]["pm2_env"]["restart_time"] > caddy["restart_time"]
    assert "bind: address already in use" in (s.workdir / "logs" / "caddy.log").read_text()


def tunnel_stale(s, h):
    config = s.workdir / "cloudflared" / "config.yml"
    assert config.stat().st_mtime > s.processes["cloudflared"].create_time() + 2


def tunnel_fresh(s, h):
    assert time.time() - s.processes["cloudflared"].create_time() < 10
    assert s.jlist()[APPS["cloudflared"]]["pm2_env"]["restart_time"] == 1  # restarted, by pm2 restart
    assert tomllib.loads(s.env_file.read_text())["environments"]["local"]["tunnel"]["min_uptime"] == 120


def quick_tunnel(s, h):
    cmdline = s.processes["cloudflared"].cmdline()
    assert cmdline[-4:] == ["--url", url(s, "frontend"), "--metrics", f"127.0.0.1:{s.ports['metrics']}"]
    assert "run" not in cmdline
    assert h.get(f"http://127.0.0.1:{s.ports['metrics']}/ready").status_code == 200  # connected, but not named
    assert_cf_error(get(h, s, "edge_site"), 530, 1033)


def backend_stopped(s, h):
    (listener,) = s.processes["backend"].children()
    assert listener.status() == psutil.STATUS_STOPPED  # only the stage's own listener, state T
    assert s.processes["backend"].status() != psutil.STATUS_STOPPED
    assert s.jlist()[APPS["backend"]]["pm2_env"]["status"] == "online"
    assert accepts("127.0.0.1", s.ports["backend"])  # the OS still accepts for it
    assert_times_out(h, s, "backend")
    s.stop()
    assert not listener.is_running() or listener.status() == psutil.STATUS_ZOMBIE  # continued, then ended


def rewrite_built_elsewhere(s, h):
    build = read_build(s.frontend_folder)
    assert build.rewrite_for("/api/x").base == f"http://localhost:{s.ports['dead']}/api"
    answer = get(h, s, "frontend", "/api/health")
    # Next's answer to a rewrite it cannot proxy, as the real app's: bare, not even its own X-Care2-Origin
    assert (answer.status_code, answer.text) == (500, "Internal Server Error")
    assert "x-care2-origin" not in answer.headers and "content-type" not in answer.headers
    assert_refused(s, "dead")


# What the catalog says must be seen when a fault is on: one check per fault.
FAULT_CHECKS = {
    "frontend-down": frontend_down, "backend-down": backend_down, "db-down": db_down,
    "db-degraded-200": db_down, "db-hang": db_hang, "tunnel-down": tunnel_down, "origin-refused": origin_refused,
    "ipv6-only-dial": ipv6_only_dial, "port-drift": port_drift, "rogue-on-backend-port": rogue_on_backend_port,
    "backend-welcome-on-site": backend_welcome_on_site, "static-404-html": static_404_html,
    "chunk-missing": chunk_missing, "page-endless": page_endless,
    "api-base-3003": api_base_3003, "cors-blocked": cors_blocked, "mic-blocked": mic_blocked,
    "story-start-500": story_start_500, "processing-stuck": processing_stuck, "slow-health": slow_health,
    "hang": hang, "pm2-zombie": pm2_zombie, "pm2-restart-loop": pm2_restart_loop, "tunnel-stale": tunnel_stale,
    "tunnel-fresh": tunnel_fresh, "quick-tunnel": quick_tunnel, "backend-stopped": backend_stopped,
    "rewrite-built-elsewhere": rewrite_built_elsewhere, "origin-errors-logged": origin_errors_logged,
    "caddy-down": caddy_down, "caddy-wrong-route": caddy_wrong_route, "caddy-no-site": caddy_no_site,
}
# Faults made of or seen through PM2 run the stage under PM2; the others without it (quicker).
PM2_FAULTS = NEEDS_PM2 | {"tunnel-fresh", "backend-stopped"}


def test_every_fault_has_a_check():
    assert FAULT_CHECKS.keys() == FAULTS.keys()


@pytest.mark.parametrize("fault", [pytest.param(f, marks=needs_pm2) if f in PM2_FAULTS else
                                   pytest.param(f, marks=needs_caddy) if f in NEEDS_CADDY else f
                                   for f in sorted(FAULTS)])
def test_fault(fault, http):
    with Stage({fault}, pm2=fault in PM2_FAULTS) as stage:
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
    missing = cli("run", "--no-pm2", "--", "no-such-command-here")
    assert (missing.returncode, missing.stderr.strip()) == (
        127, "error: cannot run no-such-command-here: No such file or directory")


def test_the_stage_answers_without_nagles_delay_as_node_does(unused_port):
    """Node's HTTP server (the real app's) sets TCP_NODELAY: without it a kept-alive connection's later answers
    wait 40 ms for a delayed ACK, and every number measured on the stage would be the stage's, not Care2's."""
    from fixtures.stage.common import listen

    with listen("127.0.0.1", unused_port) as sock:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_stages_side_by_side_never_count_on_the_same_port(tmp_path):
    """A stage's failover span stays free on purpose: another stage must not land in it (PortClaims)."""
    from fixtures.stage import PortClaims

    first, second = PortClaims(), PortClaims()
    first.folder = second.folder = tmp_path
    assert first.claim(range(5000, 5006))
    assert not second.claim(range(5004, 5007)) and not list(tmp_path.glob("5006"))  # all or nothing
    first.release()
    assert second.claim(range(5004, 5007))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "6000").write_text(dead.stdout.strip())  # left by a stage whose process is gone
    assert first.claim(range(6000, 6001))

    def ours(port: int) -> bool:
        try:
            return (PortClaims.folder / str(port)).read_text() == str(os.getpid())
        except FileNotFoundError:
            return False

    with Stage(pm2=False) as stage:  # a real stage claims its ports and their spans, and gives them back
        span = range(stage.ports["backend"], stage.ports["backend"] + 6)
        assert all(ours(port) for port in span)
    assert not any(ours(port) for port in span)
