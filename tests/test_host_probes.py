"""Unit tests of the host probes (PM2, cloudflared, listeners, processes, app config) on recorded inputs
and on real loopback sockets and processes this test opens itself; and of the PM2 probe's judgement of
recorded PM2 shapes that PM2 cannot be made to produce on demand (no PM2 needed: the jlists are data)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from smoke.probes import appconfig, cloudflared, cloudflared_metrics, fixes, port_drift, ports, processes, under_pm2
from smoke.probes.pm2 import App, PM2Error, parse_jlist, read_jlist
from smoke.target import TargetError, load_target
from tests.conftest import serving

RECORDED = Path(__file__).parent.parent / "fixtures" / "pm2"
DAY = 1768118400.0  # the recordings' pm_uptime (2026-01-11 08:00 UTC), in seconds
NO_SUCH_PID = 4194305  # above Linux's largest pid_max; no process can have it
POSIX = pytest.mark.skipif(os.name != "posix", reason="needs POSIX process semantics (zombies, shebang scripts)")


def recorded(name: str) -> str:
    return (RECORDED / name).read_text(encoding="utf-8")


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


IPV6 = pytest.mark.skipif(not ipv6_loopback(), reason="this host has no IPv6 loopback")


@contextlib.contextmanager
def listening(host: str = "127.0.0.1", port: int = 0):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(8)
        yield sock.getsockname()[1]


# --- pm2 jlist -------------------------------------------------------------------------------------------------------


def test_recorded_healthy_jlist_reads_every_field():
    listing = parse_jlist(recorded("jlist-healthy.json"))
    assert listing.names == ["careconnect-backend-prod", "careconnect-frontend-prod", "care2connect-caddy",
                             "care2connect-tunnel"]
    backend = listing.app("careconnect-backend-prod")
    assert (backend.pm_id, backend.pid, backend.status, backend.restarts, backend.unstable_restarts) == (
        0, 48211, "online", 0, 0)
    assert (backend.memory, backend.cpu, backend.port) == (96468992, 0.3, "3001")
    assert backend.uptime(DAY + 90) == 90
    assert backend.label == "careconnect-backend-prod (pm_id 0, pid 48211)"
    assert not listing.daemon_started and listing.notes == ()


def test_username_and_USERNAME_both_survive_and_a_repeated_key_keeps_its_last_value():
    raw = recorded("jlist-healthy.json")
    assert '"username":"care2"' in raw and '"USERNAME":"care2"' in raw  # as PM2 flattens the environment
    assert len(parse_jlist(raw).apps) == 4
    doubled = '[{"name":"careconnect-backend-prod","pid":1,"pm2_env":{"status":"stopped","status":"online"}}]'
    assert parse_jlist(doubled).apps[0].status == "online"  # as JavaScript (and so `pm2 ls`) reads it


def test_recorded_zombie_shapes():
    zero = parse_jlist(recorded("jlist-online-0b.json")).app("careconnect-backend-prod")
    assert (zero.status, zero.memory, zero.cpu) == ("online", 0, 0.0)
    dead = parse_jlist(recorded("jlist-online-dead-pid.json")).app("careconnect-backend-prod")
    assert (dead.status, dead.pid) == ("online", NO_SUCH_PID) and dead.process() is None


def test_recorded_restart_loop_and_errored():
    loop = parse_jlist(recorded("jlist-restart-loop.json")).app("careconnect-backend-prod")
    assert (loop.status, loop.restarts, loop.unstable_restarts) == ("online", 8, 8)
    assert loop.uptime(DAY + 7200) == pytest.approx(0.3)
    errored = parse_jlist(recorded("jlist-errored.json")).app("careconnect-backend-prod")
    assert (errored.status, errored.pid, errored.restarts, errored.memory) == ("errored", 0, 15, 0)


def test_a_daemon_started_by_jlist_is_told_apart_from_an_empty_list():
    spawned = parse_jlist(recorded("jlist-daemon-spawned.txt"))  # banner, ANSI colours, then []
    assert spawned.apps == () and spawned.daemon_started
    assert spawned.notes[0].startswith("[PM2] Spawning PM2 daemon with pm2_home=")
    empty = parse_jlist("[]")
    assert empty.apps == () and not empty.daemon_started


def test_notices_before_the_list_are_kept():
    output = (">>>> In-memory PM2 is out-of-date, do:\n>>>> $ pm2 update\nIn memory PM2 version: 5.2.0\n"
              "Local PM2 version: 5.3.1\n\n" + recorded("jlist-healthy.json"))
    listing = parse_jlist(output)
    assert listing.notes == (">>>> In-memory PM2 is out-of-date, do:", ">>>> $ pm2 update")
    assert len(listing.apps) == 4


@pytest.mark.parametrize("output", [
    "", "command not found", "[PM2] Spawning PM2 daemon\n", '[{"name": "careconnect-backend-prod"',
    '[{"name": "a"}] and then something', "[1, 2, 3]", '{"name": "a"}',
])
def test_garbage_output_is_a_pm2_error(output):
    with pytest.raises(PM2Error) as failure:
        parse_jlist(output)
    assert "pm2 jlist" in str(failure.value) and failure.value.fix


def test_odd_field_types_do_not_crash():
    app = parse_jlist('[{"name": "x", "pid": null, "pm_id": "3", "pm2_env": "broken", "monit": {"memory": "n/a"}}]')
    assert (app.apps[0].pid, app.apps[0].pm_id, app.apps[0].status, app.apps[0].memory) == (0, 3, "unknown", None)
    assert app.apps[0].uptime(DAY) is None and app.apps[0].process() is None


def test_read_jlist_runs_the_configured_command(tmp_path):
    replay = [sys.executable, "-c", "import sys; sys.stdout.write(open(sys.argv[1]).read())",
              str(RECORDED / "jlist-restart-loop.json")]
    assert read_jlist(replay, timeout=10).app("careconnect-backend-prod").restarts == 8


def test_pm2_not_installed_is_its_own_error():
    with pytest.raises(PM2Error) as failure:
        read_jlist(["no-such-pm2-here", "jlist"], timeout=5)
    assert "PM2 is not installed here" in str(failure.value) and "npm install -g pm2" in failure.value.fix


def test_a_failing_or_hanging_pm2_is_reported():
    failing = "import sys; sys.stderr.write('connect ECONNREFUSED /home/care2/.pm2/rpc.sock\\n'); sys.exit(3)"
    with pytest.raises(PM2Error, match="exit code 3: connect ECONNREFUSED"):
        read_jlist([sys.executable, "-c", failing], timeout=10)
    started = time.monotonic()
    with pytest.raises(PM2Error, match="did not finish within 0.5 s") as failure:
        read_jlist([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert time.monotonic() - started < 10 and "pm2 ping" in failure.value.fix


def test_liveness_of_the_pid():
    me = App("self", 0, os.getpid(), "online", None, 0, 0, 1, 0.0)
    assert me.process() is not None
    assert dataclasses.replace(me, pid=0).process() is None
    assert dataclasses.replace(me, pid=NO_SUCH_PID).process() is None


@POSIX
def test_a_zombie_pid_is_not_alive():
    with zombie_child() as pid:
        assert App("z", 0, pid, "online", None, 0, 0, 1, 0.0).process() is None


@contextlib.contextmanager
def zombie_child():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.02)
        yield child.pid
    finally:
        child.wait()


# --- the PM2 judgement on recorded shapes ----------------------------------------------------------------------------


def judged(name: str, later: dict | None = None, **changes) -> tuple[list, list]:
    """The PM2 probe's judgement of the backend app in a recorded jlist, changed by ``changes``; ``later``:
    changes seen a few seconds on. Its failures, and the text of its warnings."""
    target = load_target("local", environ={})
    app = dataclasses.replace(parse_jlist(recorded(name)).app("careconnect-backend-prod"), **changes)
    again = dataclasses.replace(app, **later) if later is not None else None
    found = under_pm2.judge_app(target, "backend", app, again, DAY + 7200)
    warnings = [f"{finding.what}; {finding.fix}" if finding.fix else finding.what
                for finding in found if finding.severity == "warn"]
    return [finding for finding in found if finding.severity == "fail"], warnings


def test_online_with_0_b_is_a_zombie_with_its_name_pid_memory_and_the_fix():
    (problem,), _ = judged("jlist-online-0b.json", pid=os.getpid())
    assert f"careconnect-backend-prod (pm_id 0, pid {os.getpid()}): PM2 says online" in problem.what
    assert "0 b of memory, under the 1000 b floor" in problem.what and "zombie" in problem.what
    assert problem.fix.startswith("pm2 delete careconnect-backend-prod && pm2 start ecosystem.prod.config.js "
                                  "--only careconnect-backend-prod")


def test_online_with_a_dead_pid_is_a_zombie():
    (problem,), _ = judged("jlist-online-dead-pid.json")
    assert f"no live process has pid {NO_SUCH_PID} (PM2 shows 92.0 MB of memory)" in problem.what
    assert "zombie" in problem.what and "pm2 delete careconnect-backend-prod" in problem.fix


def test_restart_loop_names_the_count_and_the_uptime():
    (problem,), _ = judged("jlist-restart-loop.json")
    assert "restart loop: 8 restarts, 8 of them unstable, up only 300 ms (an app must stay up 1 min)" in problem.what
    assert "pm2 logs careconnect-backend-prod --lines 50" in problem.fix


def test_a_recent_restart_is_a_loop_only_when_the_count_rises():
    young = {"pid": os.getpid(), "restarts": 1, "started_ms": int((DAY + 7200 - 20) * 1000)}
    with listening():
        problems, warnings = judged("jlist-healthy.json", later={}, **young)
        assert problems == [] and "restarted 20 s ago (restart 1) and not again within 3 s" in warnings[0]
        (problem,), _ = judged("jlist-healthy.json", later={"restarts": 2, "pid": 51990}, **young)
    assert "restart loop: 1 restarts, 1 -> 2 within 3 s, up only 20 s" in problem.what


def test_a_loop_caught_between_two_runs_is_still_a_loop():
    # PM2 shows "stopped" with the old pid from an app's exit until its next run starts; a pm2 stop leaves pid 0
    (problem,), _ = judged("jlist-restart-loop.json", status="stopped")
    assert "restart loop: 8 restarts, 8 of them unstable, 'stopped' now, 300 ms after its last start" in problem.what
    (problem,), _ = judged("jlist-restart-loop.json", status="launching")
    assert "restart loop: 8 restarts" in problem.what


def test_errored_and_stopped_apps_say_so():
    (errored,), _ = judged("jlist-errored.json")
    assert "is errored: PM2 gave up restarting it after 15 restarts" in errored.what
    (stopped,), _ = judged("jlist-healthy.json", status="stopped", pid=0)
    assert "is stopped in PM2" in stopped.what and stopped.fix == "pm2 restart careconnect-backend-prod"


def test_a_live_app_is_judged_by_whether_it_or_a_child_listens(sleeper):
    with listening():
        assert judged("jlist-healthy.json", pid=os.getpid()) == ([], [])
    (problem,), _ = judged("jlist-healthy.json", pid=sleeper.pid)
    assert "online and alive, but neither it nor a child listens on any port (expected 3001)" in problem.what


def test_many_past_restarts_of_a_stable_app_are_a_warning():
    with listening():
        problems, warnings = judged("jlist-healthy.json", pid=os.getpid(), restarts=37)
    assert problems == [] and "restarted 37 times" in warnings[0]


# --- cloudflared command lines ---------------------------------------------------------------------------------------


def test_named_tunnel_as_care2_runs_it():
    command = cloudflared.parse_command(
        ["cloudflared", "tunnel", "--edge-ip-version", "4", "run", "care2connects-tunnel"])
    assert (command.kind, command.name, command.config, command.metrics) == ("named", "care2connects-tunnel", "", "")


def test_windows_paths():
    exe = r"C:\Program Files (x86)\cloudflared\cloudflared.exe"
    config = r"C:\Users\care2\.cloudflared\config.yml"
    command = cloudflared.parse_command([exe, "tunnel", "--config", config, "run", "care2connects-tunnel"])
    assert (command.kind, command.name, command.config) == ("named", "care2connects-tunnel", config)
    assert cloudflared.is_cloudflared("cloudflared.exe", [exe, "tunnel", "run"])
    assert cloudflared.parse_command([exe, "tunnel", "--url", "http://localhost:3000"]).kind == "quick"


@pytest.mark.parametrize("interpreter", [["python3"], ["/usr/bin/python3", "-u"], [r"C:\Python311\python.exe"]])
def test_interpreter_prefixed_command_lines(interpreter):
    cmdline = [*interpreter, "/x/bin/cloudflared", "tunnel", "--metrics", "127.0.0.1:20241", "run", "care2-test"]
    command = cloudflared.parse_command(cmdline)
    assert (command.kind, command.name, command.metrics) == ("named", "care2-test", "127.0.0.1:20241")
    assert cloudflared.is_cloudflared("python3", cmdline)


def test_not_cloudflared():
    assert not cloudflared.is_cloudflared("vim", ["vim", "/etc/cloudflared"])
    assert not cloudflared.is_cloudflared("python3", ["python3", "/x/other.py", "cloudflared"])
    assert not cloudflared.is_cloudflared("node", ["node", "server.js"])


@pytest.mark.parametrize("args, kind, url", [
    (["tunnel", "--url", "http://localhost:3000"], "quick", "http://localhost:3000"),
    (["tunnel", "--url=http://127.0.0.1:3000", "--no-autoupdate"], "quick", "http://127.0.0.1:3000"),
    (["--url", "localhost:8080"], "quick", "localhost:8080"),
    (["tunnel", "--hello-world"], "quick", ""),
    (["tunnel", "--url", "http://localhost:3000", "run", "care2connects-tunnel"], "named", "http://localhost:3000"),
    (["tunnel", "list"], "other", ""),
    (["tunnel", "login"], "other", ""),
    (["update"], "other", ""),
    (["access", "tcp", "--hostname", "x.example"], "other", ""),
])
def test_quick_tunnels_and_other_commands(args, kind, url):
    command = cloudflared.parse_command(["cloudflared", *args])
    assert (command.kind, command.url) == (kind, url)


def test_switches_and_flags_around_run():
    command = cloudflared.parse_command(["cloudflared", "--no-autoupdate", "tunnel", "--loglevel", "debug",
                                    "--metrics=localhost:20243", "run", "--protocol", "quic", "care2connects-tunnel"])
    assert (command.kind, command.name, command.metrics) == ("named", "care2connects-tunnel", "localhost:20243")


def test_token_and_config_runs_name_no_tunnel_and_hide_the_token():
    cmdline = ["cloudflared", "tunnel", "run", "--token", "eyJhIjoiMTIzIiwidCI6IjQ1NiIsInMiOiJzZWNyZXQifQ=="]
    command = cloudflared.parse_command(cmdline)
    assert (command.kind, command.name, command.token) == ("named", "", True)
    assert processes.command_line(cmdline) == "cloudflared tunnel run --token ***"
    assert processes.command_line(["cloudflared", "--token=abc", "--credentials-file", "/x.json"]) == (
        "cloudflared --token=*** --credentials-file /x.json")
    bare = cloudflared.parse_command(["cloudflared", "tunnel", "--config", "/etc/cloudflared/config.yml"])
    assert (bare.kind, bare.name, bare.config) == ("named", "", "/etc/cloudflared/config.yml")


def test_relative_config_is_taken_from_the_process_directory():
    process = cloudflared.Cloudflared(1, (), 0.0, "/srv/care2", cloudflared.parse_command(
        ["cloudflared", "tunnel", "--config", "cloudflared/config.yml", "run", "x"]))
    assert process.config_path == Path("/srv/care2/cloudflared/config.yml")


@POSIX
def test_find_cloudflared_sees_a_process_named_cloudflared(tmp_path):
    program = tmp_path / "cloudflared"
    program.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    program.chmod(0o755)
    child = subprocess.Popen([str(program), "tunnel", "--config", "config.yml", "run", "care2-unit-test"], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 10
        while not (found := [p for p in cloudflared.find_cloudflared() if p.pid == child.pid and p.cmdline]):
            assert time.monotonic() < deadline, "the stand-in never showed up"
            time.sleep(0.05)
        (process,) = found
        assert psutil.Process(child.pid).name() == "cloudflared"
        assert (process.command.kind, process.command.name) == ("named", "care2-unit-test")
        assert process.config_path == tmp_path / "config.yml"
        assert 0 <= process.uptime(time.time()) < 30
    finally:
        child.kill()
        child.wait()


# --- cloudflared config, /ready, /metrics ----------------------------------------------------------------------------


def test_config_ingress_and_rule_matching(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(
        "tunnel: care2connects-tunnel\ncredentials-file: /home/care2/.cloudflared/abc.json\nmetrics: 127.0.0.1:20241\n"
        "ingress:\n  - hostname: care2connects.org\n    service: http://localhost:3000\n"
        "  - hostname: '*.care2connects.org'\n    service: https://127.0.0.1\n"
        "  - service: http_status:404\n"
    )
    config = cloudflared.TunnelConfig.read(path)
    assert (config.tunnel, config.metrics, len(config.ingress)) == ("care2connects-tunnel", "127.0.0.1:20241", 3)
    assert config.modified == path.stat().st_mtime
    assert config.rule_for("care2connects.org").origin == ("localhost", 3000)
    assert config.rule_for("api.care2connects.org").origin == ("127.0.0.1", 443)
    assert config.rule_for("other.example").service == "http_status:404"
    assert config.rule_for("other.example").origin is None


@pytest.mark.parametrize("text, problem", [
    ("ingress: [\n", "is not valid YAML (line 2)"),
    ("ingress: http://localhost:3000\n", "has no readable ingress list"),
    ("- just\n- a list\n", "has no readable ingress list"),
])
def test_unreadable_configs_name_the_file(tmp_path, text, problem):
    path = tmp_path / "config.yml"
    path.write_text(text)
    with pytest.raises(cloudflared.TunnelConfigError, match=re.escape(problem)):
        cloudflared.TunnelConfig.read(path)
    with pytest.raises(cloudflared.TunnelConfigError, match="does not exist"):
        cloudflared.TunnelConfig.read(tmp_path / "missing.yml")


@pytest.mark.parametrize("status, body, ready, count", [
    (200, {"status": 200, "readyConnections": 4, "connectorId": "c0ffee"}, True, 4),
    (503, {"status": 503, "readyConnections": 0, "connectorId": "c0ffee"}, False, 0),
    (200, {"status": 200, "readyConnections": 0}, False, 0),
    (200, {"readyConnections": True}, False, None),
    (200, "OK", False, None),
])
def test_readiness(status, body, ready, count):
    readiness = cloudflared_metrics.Readiness.read(status, body)
    assert (readiness.ready, readiness.ready_connections) == (ready, count)


METRICS = """# HELP build_info Build and version information
# TYPE build_info gauge
build_info{goversion="go1.22.5",revision="2024-08-06T09:15:08Z",type="",version="2024.8.2"} 1
# HELP cloudflared_tunnel_ha_connections Number of active ha connections
# TYPE cloudflared_tunnel_ha_connections gauge
cloudflared_tunnel_ha_connections 2
cloudflared_tunnel_request_errors{connection_id="0"} 3e+00
"""


def test_metric_samples():
    assert cloudflared_metrics.metric(METRICS, "cloudflared_tunnel_ha_connections") == 2
    assert cloudflared_metrics.metric(METRICS, "cloudflared_tunnel_request_errors") == 3
    assert cloudflared_metrics.metric(METRICS, "cloudflared_tunnel_ha") is None
    assert cloudflared_metrics.metric("", "cloudflared_tunnel_ha_connections") is None


def test_metrics_server_read_over_loopback(http):
    ready = (200, {"content-type": "application/json"}, json.dumps({"status": 200, "readyConnections": 2,
                                                                       "connectorId": "c0ffee"}))
    with serving({"/ready": ready, "/metrics": (200, {"content-type": "text/plain"}, METRICS)}) as port:
        metrics = cloudflared_metrics.read_metrics(http, f"http://127.0.0.1:{port}")
    assert (metrics.readiness.ready, metrics.readiness.ready_connections) == (True, 2)
    assert (metrics.ha_connections, metrics.version) == (2, "2024.8.2")


def test_a_down_tunnel_and_a_foreign_server(http, unused_port):
    down = (503, {"content-type": "application/json"}, '{"status":503,"readyConnections":0,"connectorId":"x"}')
    with serving({"/ready": down}) as down_port, serving({}) as foreign_port:
        urls = [f"http://127.0.0.1:{unused_port}", f"http://127.0.0.1:{foreign_port}", f"http://127.0.0.1:{down_port}"]
        metrics = cloudflared_metrics.find_metrics(http, urls)
    assert metrics.base_url == urls[2]
    assert (metrics.readiness.ready, metrics.readiness.describe()) == (False, "503, readyConnections=0")
    assert cloudflared_metrics.read_metrics(http, urls[1]) is None


def test_metrics_addresses_prefer_what_the_process_says_and_never_leave_loopback():
    stranger = cloudflared.Cloudflared(NO_SUCH_PID, (), 0.0, "", cloudflared.parse_command(
        ["cloudflared", "tunnel", "--metrics", "0.0.0.0:20243", "run", "x"]))
    urls, skipped = cloudflared_metrics.metrics_urls(stranger, "192.0.2.10:20241", "[::1]:20244", "localhost:20245")
    assert urls[:3] == ["http://127.0.0.1:20243", "http://[::1]:20244", "http://127.0.0.1:20245"]
    assert urls[3:] == ["http://127.0.0.1:20241", "http://127.0.0.1:20242", "http://127.0.0.1:20244"]
    assert skipped == ["192.0.2.10:20241"]


def test_metrics_addresses_use_the_ports_the_process_listens_on():
    command = cloudflared.parse_command(["cloudflared", "tunnel", "run", "x"])
    me = cloudflared.Cloudflared(os.getpid(), (), 0.0, "", command)
    with listening() as port:
        urls, _ = cloudflared_metrics.metrics_urls(me)
    assert f"http://127.0.0.1:{port}" in urls and "http://127.0.0.1:20241" not in urls


# --- listeners and dials -------------------------------------------------------------------------------------------


def test_listener_lookup_names_this_process():
    with listening() as port:
        (listener,) = ports.listening_on(port)
    assert (listener.port, listener.pid, listener.addresses) == (port, os.getpid(), ("127.0.0.1",))
    assert listener.name == psutil.Process().name() and listener.cmdline == tuple(psutil.Process().cmdline())
    assert listener.describe().startswith(f"PID {os.getpid()} (") and listener.describe().endswith("on 127.0.0.1")
    assert ports.held_by(listener, os.getpid()) and ports.held_by(listener, os.getppid())
    assert not ports.held_by(listener, NO_SUCH_PID) and not ports.held_by(listener, 0)
    assert ports.listening_on(port) == []


@IPV6
def test_both_families_of_one_process_are_one_listener():
    with listening("127.0.0.1") as port, listening("::1", port):
        (listener,) = ports.listening_on(port)
    assert listener.addresses == ("127.0.0.1", "::1") and listener.url == f"http://127.0.0.1:{port}"


def test_failover_range_finds_a_drifted_listener():
    with listening() as port:
        assert [listener.port for listener in ports.failover(port - 2, 5)] == [port]
        assert port not in [listener.port for listener in ports.failover(port, 5)]


def test_the_site_urls_own_port_in_the_frontends_failover_span_is_no_second_frontend():
    """A local proxy on the site URL's port (frontend+4 here, inside the frontend's failover span) answers as the
    frontend: a door the environment names, never a stray second frontend; the same answer on another port is one."""
    target = load_target("local", environ={"SMOKE_SITE_URL": '"http://localhost:3004"'})
    assert (target.ports.frontend, target.ports.failover_span) == (3000, 5)
    assert 3004 in port_drift.own_ports(target) and 3003 not in port_drift.own_ports(target)

    def answering_as_frontend(port: int) -> ports.Identity:
        return ports.Identity(ports.Listener(port, 4242, ("127.0.0.1",)), "frontend", 'answers X-Care2-Origin: '
                              '"frontend"', None, False, False)

    proxy, stray = answering_as_frontend(3004), answering_as_frontend(3003)
    own = port_drift.own_ports(target)
    assert port_drift.second_instances("frontend", "careconnect-frontend-prod", own, [proxy]) == []
    assert port_drift.second_instances("frontend", "careconnect-frontend-prod", own, [proxy, stray]) == [stray]
    (problem,) = port_drift.port_problems(target, "frontend", 3000, [answering_as_frontend(3000)], [stray])
    assert problem.what.startswith("frontend: a second frontend listens beside port 3000: port 3003: PID 4242")
    assert problem.fix == "an old instance: stop it: kill 4242 (Windows: taskkill /PID 4242 /F)"


@IPV6
def test_dual_stack_accept_against_a_socket_bound_to_127_0_0_1_only():
    with listening("127.0.0.1") as port:
        v4, v6 = ports.dial("127.0.0.1", port, 2.0), ports.dial("::1", port, 2.0)
    assert (v4.accepted, v4.reason, v4.address) == (True, "accepted", f"127.0.0.1:{port}")
    assert (v6.accepted, v6.reason, v6.address) == (False, "connection refused", f"[::1]:{port}")


def test_dial_to_nothing_is_refused(unused_port):
    assert ports.dial("127.0.0.1", unused_port, 2.0).reason == "connection refused"


@pytest.mark.parametrize("addresses, host", [
    (("0.0.0.0",), "127.0.0.1"), (("::",), "::1"), (("::1",), "::1"), (("127.0.0.1", "::1"), "127.0.0.1"),
])
def test_where_a_listener_is_reached(addresses, host):
    assert ports.Listener(3000, 1, addresses).loopback_address == host


def test_identity_by_header_by_pm2_and_by_the_proxys_answer(http):
    backend = (200, {"content-type": "application/json", "x-care2-origin": "backend"}, '{"status":"alive"}')
    with serving({"/health/live": backend}) as port:
        (listener,) = ports.listening_on(port)
        plain = ports.identify(listener, http, "/health/live")
        me = App("careconnect-backend-prod", 0, os.getpid(), "online", None, 0, 0, 1, 0.0)
        managed = ports.identify(listener, http, "/health/live", [me])
    assert (plain.origin, plain.pm2_app) == ("backend", None)
    assert plain.said.startswith('answers X-Care2-Origin: "backend" (GET http://127.0.0.1:')
    assert managed.pm2_app == "careconnect-backend-prod" and managed.under_pm2
    assert "PM2 app careconnect-backend-prod" in managed.describe()
    invalid = (404, {"content-type": "text/plain"}, "Invalid hostname: 127.0.0.1:8080")
    with serving({"/": invalid}) as port:
        proxy = ports.identify(ports.listening_on(port)[0], http, "/")
    assert proxy.invalid_hostname and proxy.origin is None and "without X-Care2-Origin" in proxy.said


def test_identity_of_a_listener_that_never_answers(http, hung_listener):
    (listener,) = ports.listening_on(hung_listener)
    identity = ports.identify(listener, http, "/health/live")
    assert identity.origin is None and identity.said.startswith("accepted but gave no HTTP answer (timed out")


# --- processes -----------------------------------------------------------------------------------------------------


def test_family_reads_state_and_memory(sleeper):
    members = {member.pid: member for member in processes.family([os.getpid(), NO_SUCH_PID])}
    assert members[os.getpid()].rss > 0 and not members[os.getpid()].without_memory
    assert members[sleeper.pid].root == os.getpid() and members[sleeper.pid].ppid == os.getpid()
    assert NO_SUCH_PID not in members


@POSIX
def test_family_finds_a_zombie_child():
    with zombie_child() as pid:
        member = {member.pid: member for member in processes.family([os.getpid()])}[pid]
    assert member.zombie
    assert member.describe() == f"PID {pid} ({member.name}) is a zombie (defunct), child of PID {os.getpid()}"


@POSIX
def test_a_process_caught_exiting_is_not_a_zombie():
    """A child that has just exited is a zombie until its parent reaps it, a moment later: not a Care2 problem (an
    unreaped cloudflared of another run once turned Processes red)."""
    with zombie_child() as pid:
        reaper = threading.Timer(0.05, os.waitpid, (pid, 0))  # the parent reaps it, as parents do, just after
        reaper.start()
        members = {member.pid for member in processes.family([os.getpid()])}
        reaper.join()
    assert pid not in members


def test_zero_resident_memory_is_flagged():
    member = processes.ProcessState(7, 1, 7, "node", ("node", "server.js"), psutil.STATUS_SLEEPING, 0)
    assert member.without_memory and member.describe() == "PID 7 (node server.js) has 0 bytes of resident memory"


def test_a_zombie_and_a_process_without_memory_are_named_with_whose_they_are():
    owners = {7: processes.Owner("PM2 app careconnect-backend-prod", fixes.Fix("pm2 restart careconnect-backend-prod"),
                                 "backend", "online")}
    members = [processes.ProcessState(7, 1, 7, "node", ("node", "server.js"), psutil.STATUS_SLEEPING, 4096),
               processes.ProcessState(8, 7, 7, "node", (), psutil.STATUS_ZOMBIE, None),
               processes.ProcessState(9, 7, 7, "node", ("node", "worker.js"), psutil.STATUS_SLEEPING, 0)]
    zombie, idle, counted = processes.judge(owners, members)
    assert (zombie.severity, zombie.what, zombie.fix) == (
        "fail", "PID 8 (node) is a zombie (defunct), child of PID 7, part of PM2 app careconnect-backend-prod: its "
        "parent has not reaped it", "pm2 restart careconnect-backend-prod; a zombie goes away when its parent exits")
    assert (idle.severity, idle.what) == (
        "fail", "PID 9 (node worker.js) has 0 bytes of resident memory, part of PM2 app careconnect-backend-prod: "
        "alive but not running anything")
    assert idle.fix.startswith("pm2 restart careconnect-backend-prod; if it stays, kill 9")
    assert (counted.severity, counted.what) == ("note", "3 Care2 processes, none a zombie or without memory")


# --- the app's own config --------------------------------------------------------------------------------------------


def test_dotenv_reading():
    text = ("# comment\nexport PORT=3003 # the docs said so\nNEXT_PUBLIC_API_URL=\"http://localhost:3003\"\n"
            "SINGLE='a # b'\nEMPTY=\nnot a line\n")
    assert appconfig.parse_dotenv(text) == {"PORT": "3003", "NEXT_PUBLIC_API_URL": "http://localhost:3003",
                                            "SINGLE": "a # b", "EMPTY": ""}


@pytest.mark.parametrize("line, value", [
    ('QUOTED="say \\"hi\\" # not a comment"', 'say "hi" # not a comment'),  # the regex kept the backslashes
    ('MULTI="a\\nb"', "a\nb"),  # an escape in double quotes is a newline
    ("BARE=http://x#y", "http://x#y"),  # a # is a comment only after a space: the regex cut the value at it
])
def test_dotenv_escapes_and_quotes_as_dotenv_reads_them(line, value):
    assert appconfig.parse_dotenv(f"{line}\n") == {line.split("=")[0]: value}


def configured(environment: str = "local", **files: Path):
    environ = {f"SMOKE_APP_CONFIG_{key.upper()}": f'"{path}"' for key, path in files.items() if key != "tunnel"}
    if "tunnel" in files:
        environ["SMOKE_TUNNEL_CONFIG"] = f'"{files["tunnel"]}"'
    return load_target(environment, environ=environ)


def test_backend_env_port_must_match(tmp_path):
    env = tmp_path / ".env"
    env.write_text("PORT=3003\nFRONTEND_PORT=3000\n")
    (found,) = appconfig.disagreements(configured(backend_env=env))
    assert found.describe() == f"backend .env {env}: PORT=3003, expected PORT=3001 (ports.backend)"
    assert f"set PORT=3001 in {env}" in found.fix and "pm2 restart careconnect-backend-prod" in found.fix
    env.write_text("DATABASE_URL=postgres://x\n")  # no PORT: the backend binds 3001, as configured
    assert appconfig.disagreements(configured(backend_env=env)) == []


@pytest.mark.parametrize("value, agrees", [
    ("http://localhost:3001", True), ("http://127.0.0.1:3001/api", True), ("/api", True),
    ("http://localhost:3003", False), ("https://api.care2connect.org", False),
])
def test_frontend_api_url_must_reach_the_backend(tmp_path, value, agrees):
    env = tmp_path / ".env.production"
    env.write_text(f"NEXT_PUBLIC_API_URL={value}\n")
    found = appconfig.disagreements(configured(frontend_env=env))
    assert (found == []) == agrees
    if not agrees:
        assert found[0].seen == f"NEXT_PUBLIC_API_URL={value}" and "next build" in found[0].fix


ECOSYSTEM = {"apps": [
    {"name": "careconnect-backend-prod", "script": "dist/server.js", "env": {"NODE_ENV": "production", "PORT": 3003}},
    {"name": "careconnect-frontend-prod", "script": "node_modules/next/dist/bin/next", "args": "start -p 3000",
     "env": {"PORT": 3000}},
    {"name": "care2connect-caddy", "script": "caddy", "args": ["run", "--config", "Caddyfile"]},
    {"name": "care2connect-tunnel", "script": "cloudflared", "args": "tunnel --url http://localhost:3000"},
]}


def test_ecosystem_json_ports_and_tunnel_args(tmp_path):
    path = tmp_path / "ecosystem.prod.json"
    path.write_text(json.dumps(ECOSYSTEM))
    found = appconfig.disagreements(configured(ecosystem=path))
    assert [f.seen for f in found] == [
        "careconnect-backend-prod env.PORT 3003",
        "care2connect-tunnel runs `cloudflared tunnel --url http://localhost:3000`",
    ]
    assert "pm2 delete careconnect-backend-prod && pm2 start" in found[0].fix
    assert found[1].expected == "cloudflared tunnel run care2connects-tunnel (tunnel.name)"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_ecosystem_javascript_is_read_as_pm2_reads_it(tmp_path):
    path = tmp_path / "ecosystem.prod.config.js"
    path.write_text("const base = 3000;\nmodule.exports = { apps: [\n"
                    "  { name: 'careconnect-frontend-prod', args: `start -p ${base + 5}` },\n"
                    "  { name: 'careconnect-backend-prod', env_production: { PORT: base + 1 } },\n] };\n")
    found = appconfig.disagreements(configured(ecosystem=path))
    assert [f.seen for f in found] == [
        "careconnect-frontend-prod args --port 3005",
        "no app named 'care2connect-caddy' (it has: careconnect-backend-prod, careconnect-frontend-prod)",
        "no app named 'care2connect-tunnel' (it has: careconnect-backend-prod, careconnect-frontend-prod)",
    ]
    path.write_text("module.exports = { apps: [ oops ] }\n")
    (broken,) = appconfig.disagreements(configured(ecosystem=path))
    assert "cannot read it: node cannot load" in broken.seen and "oops is not defined" in broken.seen


def test_ingress_ports_and_host_routing(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text("ingress:\n  - hostname: care2connects.org\n    service: http://127.0.0.1:3001\n"
                    "  - hostname: api.care2connects.org\n    service: http://localhost:3003\n"
                    "  - service: http_status:404\n")
    found = appconfig.disagreements(configured("production", tunnel=path))
    assert [f.seen for f in found] == [
        "api.care2connects.org -> http://localhost:3003",
        "care2connects.org -> http://127.0.0.1:3001 (the backend)",
    ]
    assert "route care2connects.org to http://127.0.0.1:8080" in found[1].fix


def test_missing_files_and_running_ports(tmp_path):
    (missing,) = appconfig.disagreements(configured(backend_env=tmp_path / "nope.env"))
    assert missing.seen == f"cannot read it: {tmp_path / 'nope.env'} does not exist"
    running = App("careconnect-backend-prod", 0, 1, "online", None, 0, 0, 1, 0.0, port="3003")
    (found,) = appconfig.disagreements(configured(), [running])
    assert found.describe() == ("PM2's environment for careconnect-backend-prod: PORT=3003, "
                                "expected PORT=3001 (ports.backend)")


def test_optional_roles_and_a_proxy_switched_off_are_not_required():
    target = load_target("local", environ={"SMOKE_PM2_OPTIONAL": '["tunnel"]', "SMOKE_PORTS_PROXY": "0"})
    assert target.required_apps == {"frontend": "careconnect-frontend-prod", "backend": "careconnect-backend-prod"}
    with pytest.raises(TargetError, match=r"pm2\.optional: names roles not in pm2\.apps: nope"):
        load_target("local", environ={"SMOKE_PM2_OPTIONAL": '["nope"]'})


@pytest.mark.parametrize("service", ["http://[::1", "http://localhost:99999", "unix:/tmp/x.sock", "http_status:404"])
def test_ingress_services_without_a_dialable_origin(service):
    assert cloudflared.Ingress("x", service).origin is None


def test_an_entry_of_pm2s_list_of_another_shape_reads_as_it_always_did():
    """Numbers as text, null, an object where one is expected: each field as before, never an error."""
    odd = App.read({"name": 5, "pm2_env": {"pm_id": "7", "status": None, "env": {"PORT": 0}, "PORT": 3001,
                                           "restart_time": True}, "pid": 12.9, "monit": {"memory": "1e3"}})
    assert (odd.name, odd.pm_id, odd.pid, odd.status, odd.port, odd.restarts, odd.memory, odd.cpu) == (
        "5", 7, 12, "unknown", "", 1, None, None)
    assert App.read({"pm2_env": "x", "monit": [1]}) == App("", None, 0, "unknown", None, 0, 0, None, None)
    assert App.read({"pm_id": None, "pm2_env": {"pm_id": 3, "PORT": 3001}}).port == "3001"
    assert App.read({"pm_id": None, "pm2_env": {"pm_id": 3}}).pm_id is None  # PM2's own field wins, even null
