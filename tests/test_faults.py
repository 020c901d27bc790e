"""`predemo` against the stage: green when healthy; for each fault, exactly the right checks red.

Each case starts the stage (its apps under the stage's own PM2) with one fault, runs the suite as a
user would (a pytest subprocess with --env-file), and reads the JUnit file: which checks failed, what
they said, how long it took. Every case judges the HTTP checks and the host checks (ports, dual stack,
processes, tunnel) together: a fault must turn its checks red and leave every other one green.
"""

from __future__ import annotations

import json
import re
import signal
import time
from dataclasses import dataclass

import pytest

from conftest import names_its_code
from fixtures.stage import FAULTS, Stage
from fixtures.stage import caddy as stage_caddy
from fixtures.stage import pm2 as stage_pm2

HTTP_CHECKS = {"site_reachable", "tell_your_story_page", "api_health", "database", "frontend_to_backend",
               "no_error_pages"}
HOST_CHECKS = {"tunnel_stable", "port_drift", "dual_stack", "processes", "local_path"}
CHECKS = HTTP_CHECKS | HOST_CHECKS
SITE_VIA_EDGE = {"site_reachable", "tell_your_story_page", "frontend_to_backend", "no_error_pages"}
# PM2 counts a restart unstable when its run lasted under PM2's min_uptime (1 s): on a loaded machine one may not
RESTART_LOOP = re.compile(r"care2connect-caddy \(pm_id \d+, pid \d+\): restart loop: \d+ restarts"
                          r"(, \d+ of them unstable)?(, \d+ -> \d+ within [\d.]+ s)?, "
                          r"(up only [\d.]+ m?s|'[a-z ]+' now, [\d.]+ m?s after its last start) "
                          r"\(an app must stay up 1 min\)")


@dataclass(frozen=True)
class Case:
    fault: str | None
    view: str  # "local" (straight to the origins) or "production" (through the edge)
    red: frozenset[str]
    # check -> what its message must contain: text with {fields} of the running stage (see facts()), or a pattern
    says: dict[str, tuple[str | re.Pattern, ...]]
    # what the run's warnings from the host's logs (LOG_SIGNS) must contain; () none at all; None: not judged
    warns: tuple[str, ...] | None = None


def case(fault, view, red=(), says=None, warns=None) -> Case:
    return Case(fault, view, frozenset(red), says or {}, warns)


# the warnings that come from the logs (smoke/probes/logs.py signs); others (a parallel test's tunnel) may come too
LOG_SIGNS = ("'s log shows", "'s log says", " crashed ", "max_memory_restart")
# cloudflared's words for an origin it could not reach (its proxy/proxy.go), as its log (logfile:) keeps them
ORIGIN_ERROR = ('evidence: tunnel log (cloudflared PID {pid_cloudflared}, ', ' error="Unable to reach the origin '
                'service. The service may be down or it may not be responding to traffic from cloudflared: dial tcp ')


CASES = [
    case(None, "local", warns=()),  # healthy: no warning from the logs
    case(None, "production", warns=()),
    # A down app is missing from PM2's list (it is in the ecosystem file) and from its port: Ports and Processes.
    # Caddy's health check has found it down: Caddy answers 503 for its host name (the path check).
    case("frontend-down", "local", {"site_reachable", "tell_your_story_page", "frontend_to_backend", "port_drift",
                                    "processes", "local_path"},
         {"site_reachable": ("connection refused", "{fe}"),
          "port_drift": ("frontend: nothing listens on port {fe}", "pm2 start {eco} --only careconnect-frontend-prod"),
          "processes": ("careconnect-frontend-prod (frontend) is not in PM2's list",),
          "local_path": ("Caddy on 127.0.0.1:{proxy} (ports.proxy) answers 503 for care2connects.org: its upstream "
                         "127.0.0.1:{fe} (ports.frontend) refuses: nothing listens there",
                         "pm2 restart careconnect-frontend-prod")}),
    # Through the edge: Caddy's own 503 (Cloudflare passes an origin's error on), and the hop behind it.
    case("frontend-down", "production", SITE_VIA_EDGE | {"port_drift", "processes", "local_path"},
         {"no_error_pages": ("a proxy answered 503", "on this host, Caddy on 127.0.0.1:{proxy} (ports.proxy) answers "
                             "503 for care2connects.org: its upstream 127.0.0.1:{fe} (ports.frontend) refuses")}),
    case("backend-down", "local", {"api_health", "database", "frontend_to_backend", "port_drift", "processes",
                                   "local_path"},
         {"api_health": ("connection refused", "http://localhost:{be}", "port {be}"),
          "frontend_to_backend": ("the backend does not answer at http://localhost:{be}, so the rewrite cannot "
                                  "reach it: start the backend",),
          "port_drift": ("backend: nothing listens on port {be}",),
          "processes": ("careconnect-backend-prod (backend) is not in PM2's list",
                        "pm2 start {eco} --only careconnect-backend-prod"),
          "local_path": ("answers 503 for api.care2connects.org: its upstream 127.0.0.1:{be} (ports.backend) "
                         "refuses",)}),
    # PM2 says online, the listener is stopped: every check behind the backend names it and says restart, not start.
    # Caddy's health check of the backend times out too: the path check says the backend hangs behind the proxy.
    case("backend-stopped", "local", {"api_health", "database", "frontend_to_backend", "processes", "local_path"},
         {"processes": ("PID {pid_backend_server} (", "child of PID {pid_backend} (PM2 app careconnect-backend-prod, "
                        "'online'), is stopped (state T): online in PM2 but stopped",
                        "port {be} accepts connections for it and nothing answers",
                        "restart it, not start it (PM2 counts it as online): pm2 restart careconnect-backend-prod"),
          "api_health": ("timed out", "fix: PID {pid_backend_server} (child of PID {pid_backend}, PM2 app "
                         "careconnect-backend-prod, 'online') is stopped (state T): restart it, not start it",
                         "pm2 restart careconnect-backend-prod"),
          "database": ("is stopped (state T)", "pm2 restart careconnect-backend-prod"),
          "frontend_to_backend": ("the backend does not answer at http://localhost:{be}, so the rewrite cannot reach "
                                  "it: PID {pid_backend_server} (child of PID {pid_backend}",
                                  "pm2 restart careconnect-backend-prod"),
          "local_path": ("for api.care2connects.org: its upstream 127.0.0.1:{be} (ports.backend) gives no answer "
                         "(timed out after", "the backend hangs or is too slow",
                         "pm2 restart careconnect-backend-prod")}),
    case("db-down", "local", {"database"}, {"database": ("services.db.ok is false",)}),
    case("db-degraded-200", "local", {"database"}, {"database": ("answered 200", "hides a database failure")}),
    # The backend alive, its database query waiting forever: the database is to blame, not the backend's port.
    case("db-hang", "local", {"database"},
         {"database": ("timed out", "fix: the backend cannot reach its database", "PostgreSQL is running")}),
    # Every hop on this host answers: the production line says the fault lies beyond it.
    case("tunnel-down", "production", HTTP_CHECKS | {"tunnel_stable"},
         {"no_error_pages": ("Cloudflare error 1033", "HTTP 530", "cf-ray", "cloudflared",
                             "on this host every hop for care2connects.org answers",
                             "between Cloudflare and this host"),
          "tunnel_stable": ("cloudflared PID {pid_cloudflared}", "/ready answered 503, readyConnections=0")}),
    # The ingress names a port no service is configured on: the configs disagree (Ports), besides the 502.
    case("origin-refused", "production", SITE_VIA_EDGE | {"port_drift", "local_path"},
         {"site_reachable": ("Cloudflare error 502", "Bad gateway", "failing hop: Host", *ORIGIN_ERROR,
                             "127.0.0.1:{dead}: connect: connection refused",
                             "on this host, care2connects.org: the tunnel ingress ({config}) dials"),
          "local_path": (":{dead}, and the service there refuses: nothing listens there",),
          "port_drift": ("cloudflared ingress {config}", "care2connects.org -> http://localhost:{dead}")}),
    case("ipv6-only-dial", "production", SITE_VIA_EDGE | {"dual_stack", "local_path"},
         {"dual_stack": ("[::1]:{fe} connection refused while 127.0.0.1:{fe} accepts",
                         "the tunnel cannot reach it, so visitors get 502, then 1033",
                         "use http://127.0.0.1:{fe} in the tunnel ingress ({config})"),
          "site_reachable": (*ORIGIN_ERROR, "[::1]:{fe}: connect: connection refused")},
         ("cloudflared's log shows", "[::1]:{fe}", "use http://127.0.0.1:PORT in the ingress")),
    # Straight to the frontend nothing dials [::1]: only the host checks see the tunnel's ingress.
    case("ipv6-only-dial", "local", {"dual_stack", "local_path"},
         {"dual_stack": ("refused while 127.0.0.1:{fe} accepts",),
          "local_path": ("care2connects.org: the tunnel ingress ({config}) dials [::1]:{fe} (ports.frontend), and the "
                         "frontend there refuses",)}),
    case("port-drift", "local", {"port_drift", "api_health", "database", "frontend_to_backend", "local_path"},
         {"port_drift": ("backend: configured port {be}, but nothing listens there",
                         "the backend listens on port {be_listen} instead", "PID {pid_backend_server} (",
                         "fixtures.stage.backend --port {be} --listen-port {be_listen}",
                         "PM2 app careconnect-backend-prod"),
          "api_health": ("connection refused", "port {be}")}),
    case("rogue-on-backend-port", "local", {"api_health", "database", "frontend_to_backend", "port_drift",
                                            "local_path"},
         {"api_health": ("X-Care2-Origin", '"backend"', "'frontend'", "port {be}"),
          "port_drift": ("backend: port {be} is held by PID {pid_rogue} (", "squatter.py rogue {be})",
                         'X-Care2-Origin: "frontend"', "which is not the backend",
                         "the backend listens on port {be_listen}", "kill {pid_rogue}"),
          "local_path": ("api.care2connects.org reaches the frontend, not the backend",)}),
    # The path check asks the ingress's service with the site's public name: it reaches the backend.
    case("backend-welcome-on-site", "production", SITE_VIA_EDGE | {"local_path"},
         {"site_reachable": ("CareConnect System - Welcome", "routed to the backend"),
          "local_path": ("care2connects.org reaches the backend, not the frontend",
                         "the tunnel ingress ({config}) -> the backend on 127.0.0.1:{be} (ports.backend)")}),
    case("static-404-html", "local", {"site_reachable", "tell_your_story_page"},
         {"site_reachable": ("/_next/static/", "404", "text/html")}),
    # The first script and the stylesheet load; the page's own chunk, later in the page, does not.
    case("chunk-missing", "local", {"site_reachable", "tell_your_story_page"},
         {"site_reachable": ("/_next/static/chunks/app-", "got 400 text/html"),
          "tell_your_story_page": ("/_next/static/chunks/app-", "got 400 text/html")}),
    case("api-base-3003", "local", {"frontend_to_backend"},
         {"frontend_to_backend": ("API base", "sends the story to http://localhost:{dead}", "connection refused",
                                  "not to the configured API http://localhost:{be}")}),
    # The build's rewrite names a dead port: the line says where the build sends /api and where the backend listens.
    case("rewrite-built-elsewhere", "local", {"frontend_to_backend"},
         {"frontend_to_backend": ("Frontend /api rewrite: expected an answer from the backend, got 500 from unknown; "
                                  "the frontend in {fe_folder} was built with /api → http://localhost:{dead}/api "
                                  "(build ", "while the backend listens on {be}",
                                  "rebuild the frontend with NEXT_PUBLIC_API_URL at the backend's port",
                                  "pm2 restart careconnect-frontend-prod")}),
    case("cors-blocked", "local", {"frontend_to_backend"},
         {"frontend_to_backend": ("CORS", "http://localhost:{fe}", "Access-Control-Allow-Origin")}),
    # Faults only the walk meets (tests/test_walk.py): every other check stays green.
    case("mic-blocked", "local"),
    case("story-start-500", "local"),
    case("processing-stuck", "local"),
    # Caddy's health check of /health/live times out (5 s) too: it drops the backend, and the path check says so.
    case("slow-health", "local", {"api_health", "local_path"},
         {"api_health": ("timed out after", "budget 2 s"),
          "local_path": ("for api.care2connects.org: its upstream 127.0.0.1:{be} (ports.backend) gives no answer "
                         "(timed out after",)}),
    # Pages that never end: cut at the body caps, the pages and the page's code are named, the rest is green.
    case("page-endless", "local", {"site_reachable", "tell_your_story_page", "frontend_to_backend"},
         {"site_reachable": ("Home page answered 200, then was still arriving after", "it never ends",
                             "http://localhost:{fe}/"),
          "tell_your_story_page": ("Tell Your Story page answered 200, then was still arriving after",
                                   "it never ends"),
          "frontend_to_backend": ("The Tell Your Story page, whose code picks the API base,", "it never ends")}),
    # No app in PM2, and each port held by a listener that never answers: Ports names the holders.
    case("hang", "local", HTTP_CHECKS - {"no_error_pages"} | {"port_drift", "processes", "local_path"},
         {"api_health": ("timed out after",),
          "port_drift": ("port {be} is held by PID {pid_hang_backend} (", "squatter.py hang {be})",
                         "accepted but gave no HTTP answer")}),
    case("pm2-zombie", "local", {"processes"},
         {"processes": ("careconnect-backend-prod (pm_id {pm_id_backend}, pid 4194305): PM2 says online",
                        "no live process has pid 4194305 (PM2 shows 0 b of memory)", "zombie",
                        "pm2 delete careconnect-backend-prod && pm2 start {eco} --only careconnect-backend-prod")}),
    # The crash-looping app is the proxy: nothing serves its port between two crashes.
    case("pm2-restart-loop", "local", {"processes", "port_drift", "local_path"},
         {"processes": (RESTART_LOOP, "pm2 logs care2connect-caddy"),
          "port_drift": ("proxy: nothing listens on port {proxy} (ports.proxy)",),
          "local_path": ("dials 127.0.0.1:{proxy} (ports.proxy), and the proxy there refuses",)}),
    case("tunnel-stale", "local", {"tunnel_stable"},
         {"tunnel_stable": ("cloudflared PID {pid_cloudflared} started at {tunnel_started}, before its config "
                            "{config} last changed at {config_changed}", "pm2 restart care2connect-tunnel")}),
    case("tunnel-fresh", "local", {"tunnel_stable"},
         {"tunnel_stable": ("cloudflared PID {pid_cloudflared} has been up only", "(started {tunnel_started})",
                            "the pre-demo rule is up for more than 2 min")}),
    # Under PM2 the quick tunnel is in the ecosystem file, which then disagrees with tunnel.name (Ports).
    case("quick-tunnel", "local", {"tunnel_stable", "port_drift"},
         {"tunnel_stable": ("cloudflared PID {pid_cloudflared} runs a quick tunnel",
                            "tunnel --url http://localhost:{fe}", "not the named tunnel '{tunnel}'",
                            "kill {pid_cloudflared}"),
          "port_drift": ("ecosystem file {eco}: care2connect-tunnel runs",
                         "expected cloudflared tunnel run {tunnel}")}),
    # Through the edge the named tunnel has no connector at all: Cloudflare's 1033 everywhere.
    case("quick-tunnel", "production", HTTP_CHECKS | {"tunnel_stable", "port_drift"},
         {"no_error_pages": ("Cloudflare error 1033",)}),
    # Every check green, but cloudflared's log shows it could not reach its origin (Caddy) at [::1] 15 min ago.
    case("origin-errors-logged", "production", set(), {},
         ("Tunnel: cloudflared's log shows 3 origin errors ('Unable to reach the origin service') in the last hour: "
          "[::1]:{proxy} 3 times (last ", ": connection refused)", "use http://127.0.0.1:PORT in the ingress")),
    # The real Caddy broken three ways: the path check names the hop (and, through the edge, the production lines).
    case("caddy-down", "local", {"port_drift", "processes", "local_path"},
         {"local_path": ("care2connects.org: the tunnel ingress ({config}) dials 127.0.0.1:{proxy} (ports.proxy), and "
                         "the proxy there refuses: nothing listens there", "pm2 restart care2connect-caddy",
                         "api.care2connects.org: the tunnel ingress"),
          "processes": ("care2connect-caddy (proxy) is not in PM2's list",)}),
    case("caddy-down", "production", HTTP_CHECKS | {"port_drift", "processes", "local_path"},
         {"site_reachable": ("Cloudflare error 502", "on this host, care2connects.org: the tunnel ingress ({config}) "
                             "dials 127.0.0.1:{proxy} (ports.proxy), and the proxy there refuses"),
          "api_health": ("Cloudflare error 502", "on this host, api.care2connects.org: the tunnel ingress",)}),
    case("caddy-wrong-route", "local", {"local_path"},
         {"local_path": ("Caddy on 127.0.0.1:{proxy} (ports.proxy) answers 503 for care2connects.org: its upstream "
                         "127.0.0.1:{dead} refuses: nothing listens there; the frontend is configured on port {fe}",
                         "point the proxy's route for care2connects.org at port {fe} (Caddyfile)")}),
    case("caddy-wrong-route", "production", SITE_VIA_EDGE | {"local_path"},
         {"no_error_pages": ("a proxy answered 503", "on this host, Caddy on 127.0.0.1:{proxy} (ports.proxy) answers "
                             "503 for care2connects.org: its upstream 127.0.0.1:{dead} refuses")}),
    case("caddy-no-site", "local", {"local_path"},
         {"local_path": ("Caddy on 127.0.0.1:{proxy} (ports.proxy) answers 404 'Invalid hostname. Expected: "
                         "care2connects.org or api.care2connects.org' for Host care2connects.org: its site address "
                         "does not match", "add care2connects.org to the proxy's host matchers")}),
    case("caddy-no-site", "production", SITE_VIA_EDGE | {"local_path"},
         {"site_reachable": ("Invalid hostname",
                             "on this host, Caddy on 127.0.0.1:{proxy} (ports.proxy) answers 404")}),
]


def clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def facts(stage: Stage) -> dict[str, object]:
    """What a message may name, read from the running stage: ports, pids, names, paths, times."""
    config = stage.workdir / "cloudflared" / "config.yml"
    found = {"fe": stage.ports["frontend"], "be": stage.ports["backend"], "be_listen": stage.ports["backend_listen"],
             "dead": stage.ports.get("dead"), "proxy": stage.ports.get("proxy"), "tunnel": stage.tunnel_name,
             "config": config, "eco": stage.workdir / "ecosystem.json", "fe_folder": stage.frontend_folder,
             "config_changed": clock(config.stat().st_mtime),
             "tunnel_started": clock(stage.processes["cloudflared"].create_time())}
    found |= {f"pid_{name.replace('-', '_')}": process.pid for name, process in stage.processes.items()}
    if "backend" in stage.processes:  # the launcher's child listens, as tsx's does
        found["pid_backend_server"] = next((child.pid for child in stage.processes["backend"].children()), None)
    found |= {f"pm_id_{name.removeprefix('careconnect-').removesuffix('-prod')}": entry["pm_id"]
              for name, entry in stage.jlist().items()}
    return found


def test_every_fault_has_a_case():
    assert {c.fault for c in CASES} - {None} == FAULTS.keys()


@pytest.mark.skipif(not stage_pm2.installed(), reason=stage_pm2.MISSING)  # the cases run the stage under PM2
@pytest.mark.skipif(stage_caddy.binary() is None, reason=stage_caddy.MISSING)  # the cases expect the real Caddy
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.fault or 'healthy'}-{c.view}")
def test_predemo_against_the_stage(case: Case, tmp_path, run_predemo):
    with Stage(faults={case.fault} if case.fault else set(), workdir=tmp_path / "stage", pm2=True) as stage:
        run = run_predemo(stage.env_file, case.view)
        known = facts(stage)
    unjudged = {check for check in CHECKS if run.outcomes.get(check, ("missing",))[0] not in ("passed", "failed")}
    assert not unjudged, f"not judged (skipped or missing): {sorted(unjudged)}\n{run.output}"
    red = run.red() & CHECKS
    assert red == case.red, f"expected red {sorted(case.red)}, got {sorted(red)}\n{run.output}"
    for outcome in run.verdict.outcomes:
        assert not outcome.red or outcome.judged_at and all(map(names_its_code, outcome.judged_at)), \
            f"{outcome.label}'s red line should name the code that judged it, not {outcome.judged_at}"
    for check, words in case.says.items():
        message = run.message(check)
        for word in words:
            if isinstance(word, re.Pattern):
                assert word.search(message), f"{check} should match {word.pattern!r}:\n{message}"
            else:
                assert word.format(**known) in message, f"{check} should say {word.format(**known)!r}:\n{message}"
    if case.warns is not None:
        warnings = "\n".join(w for outcome in run.verdict.outcomes for w in outcome.warnings
                             if any(sign in w for sign in LOG_SIGNS))
        assert bool(warnings) == bool(case.warns), f"warnings: {warnings or 'none'}\n{run.output}"
        for word in case.warns:
            assert word.format(**known) in warnings, f"the warnings should say {word.format(**known)!r}:\n{warnings}"


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="freezing a process needs SIGSTOP")
@pytest.mark.skipif(stage_caddy.binary() is None, reason=stage_caddy.MISSING)  # the path check expects the real Caddy
def test_a_frozen_backend_without_pm2_is_named_behind_the_rewrite(tmp_path, run_predemo):
    """backend-stopped without PM2: the backend's listener frozen (accepts, never answers). The site is fine; the
    rewrite times out behind it, and its fix restarts the process that holds the backend's port, not the frontend."""
    with Stage(workdir=tmp_path / "stage", pm2=False) as stage:
        listener = stage.processes["backend"].children()[0]  # the launcher's child listens, as tsx's does
        listener.send_signal(signal.SIGSTOP)
        try:
            run = run_predemo(stage.env_file, "local")
        finally:
            listener.send_signal(signal.SIGCONT)
        be = stage.ports["backend"]
    red = run.red() & CHECKS
    # Without PM2 nothing vouches for the silent holder of the backend's port: Ports cannot call it the backend.
    # Behind Caddy the path to the backend ends there too.
    assert red == {"api_health", "database", "frontend_to_backend", "processes", "port_drift", "local_path"}, \
        run.output
    assert (f"for api.care2connects.org: its upstream 127.0.0.1:{be} (ports.backend) gives no answer"
            in run.message("local_path")), run.output
    assert "timed out" in run.message("api_health"), run.output
    assert (f"the backend does not answer at http://localhost:{be}, so the rewrite cannot reach it: PID {listener.pid} "
            f"(the backend on port {be}) is stopped (state T): restart it: pm2 restart careconnect-backend-prod"
            in run.message("frontend_to_backend")), run.output
    assert (f"Processes: PID {listener.pid} (the backend on port {be}) is stopped (state T); port {be} accepts "
            "connections for it and nothing answers" in run.message("processes")), run.output


def test_check_5_reports_each_of_its_problems(tmp_path, run_predemo):
    """Three faults behind check 5 at once (rewrite, CORS, API base): one run names all three, each with its fix."""
    faults = {"rewrite-built-elsewhere", "cors-blocked", "api-base-3003"}
    with Stage(faults=faults, workdir=tmp_path / "stage", pm2=False) as stage:
        run = run_predemo(stage.env_file, "local", "predemo and not browser and not host")
        fe, be, dead = stage.ports["frontend"], stage.ports["backend"], stage.ports["dead"]
    message = run.message("frontend_to_backend")
    assert "Frontend to backend: 3 problems" in message, run.output
    assert "  - Frontend /api rewrite: expected an answer from the backend, got 500 from unknown" in message
    assert f"  - CORS from http://localhost:{fe} to http://localhost:{be}: expected Access-Control-Allow-Origin" \
        in message
    assert (f"  - API base in the Tell Your Story page's code: the Tell Your Story page served from localhost:{fe} "
            f"sends the story to http://localhost:{dead}") in message, message
    for fix in ("rebuild the frontend with NEXT_PUBLIC_API_URL at the backend's port",
                f"add http://localhost:{fe} to the backend's CORS allow-list", f"make the page call http://localhost:{be}"):
        assert f"    fix: {fix}" in message, message


@pytest.mark.skipif(not stage_pm2.installed(), reason=stage_pm2.MISSING)
@pytest.mark.skipif(stage_caddy.binary() is None, reason=stage_caddy.MISSING)
def test_the_healthy_stage_runs_behind_a_real_caddy(tmp_path, run_predemo):
    """The Ports line names the caddy process PM2 runs on the proxy port; the path check walks through it."""
    with Stage(workdir=tmp_path / "stage", pm2=True) as stage:
        run = run_predemo(stage.env_file, "production")
        caddy, proxy = stage.processes["caddy"], stage.ports["proxy"]
        assert caddy.name() == "caddy"
    assert not run.red() & CHECKS, run.output
    (report,) = run.reports.glob("predemo-production-*.json")
    results = {outcome["nodeid"].rpartition("::")[2]: outcome["result"]
               for outcome in json.loads(report.read_text())["outcomes"]}
    assert f"proxy on {proxy}: PID {caddy.pid} caddy (PM2 app care2connect-caddy" in results["test_port_drift"]
    for host, app in (("care2connects.org", "frontend"), ("api.care2connects.org", "backend")):
        assert (f"{host}: the tunnel ingress ({stage.workdir / 'cloudflared' / 'config.yml'}) -> Caddy on "
                f"127.0.0.1:{proxy} (ports.proxy): the {app} answers 200") in results["test_local_path"]
