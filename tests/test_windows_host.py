"""The host probes' judgements (tunnel, ports, processes) on Windows-shaped samples (fixtures/windows: PM2 for Windows,
cloudflared.exe under PM2 and as a Windows service), the Care2 listeners served for real on loopback."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
from test_host_probes import IPV6

from fixtures.windows.host import WindowsHost, sample, windows_folder
from smoke.check import Check
from smoke.probes import (
    appconfig,
    build,
    care2,
    cloudflared,
    fixes,
    log_signs,
    logs,
    port_drift,
    ports,
    processes,
    standstill,
    tunnel,
    under_pm2,
)
from smoke.probes.findings import Finding
from smoke.probes.http import Client
from smoke.probes.pm2 import App, Jlist, parse_jlist
from smoke.target import load_target
from tests.conftest import ROOT, STORY_ERROR_EVIDENCE, serving

pytestmark = IPV6  # the frontend and Caddy listen on a dual-stack socket, reached at ::1
SERVICE_CONFIG = r"C:\Windows\System32\config\systemprofile\.cloudflared\config.yml"
JSON = {"content-type": "application/json"}
READY = '{"status":200,"readyConnections":4,"connectorId":"c0ffee"}'


@pytest.fixture
def windows(monkeypatch, tmp_path):
    """The Care2 listeners on loopback, and ``windows.host(sample)`` to take that sample as this machine."""
    backend = {"/health/live": (200, {**JSON, "x-care2-origin": "backend"}, '{"status":"alive"}')}
    frontend = {"/health/live": (200, {**JSON, "x-care2-origin": "frontend"}, '{"status":"alive"}')}
    proxy = {"/": (404, {"content-type": "text/plain"}, "Invalid hostname")}
    metrics = {"/ready": (200, JSON, READY), "/metrics": (200, {}, "cloudflared_tunnel_ha_connections 4\n")}
    with contextlib.ExitStack() as servers:
        found = {"backend": servers.enter_context(serving(backend)),
                 "frontend": servers.enter_context(serving(frontend, "::1")),
                 "proxy": servers.enter_context(serving(proxy, "::1")),
                 "metrics": servers.enter_context(serving(metrics))}
        # The service's config, at its Windows path as far as the checks can tell, three hours old.
        config = tmp_path / "config.yml"
        config.write_text(sample("config.yml", **found), encoding="utf-8")
        os.utime(config, (time.time() - 3 * 3600,) * 2)
        read = cloudflared.TunnelConfig.read.__func__
        monkeypatch.setattr(cloudflared.TunnelConfig, "read", classmethod(
            lambda cls, path: read(cls, config if str(path) == SERVICE_CONFIG else path)))
        client = Client(connect=1.0, read=1.0, retry_delay=0.0)
        yield SimpleNamespace(
            host=lambda name: WindowsHost(name, **found).install(monkeypatch),
            jlist=lambda name: parse_jlist(sample(name, **found)),
            target=lambda **settings: load_target("local", environ={
                "SMOKE_PORTS_FRONTEND": str(found["frontend"]), "SMOKE_PORTS_BACKEND": str(found["backend"]),
                "SMOKE_PORTS_PROXY": str(found["proxy"]), **settings}),
            http=client, config=config, ports=found,
        )
        client.close()


def judged(title: str, findings: list[Finding], http: Client) -> tuple[str, Check]:
    """A host check's findings, reported as the check reports them: (its failure message, "" when it passes; its
    Check, with its result and warnings)."""
    check = Check(http)
    try:
        check.passed("; ".join(check.report_findings(title, findings)))
    except pytest.fail.Exception as failure:
        return str(failure.msg), check
    return "", check


def tunnel_check(windows, target):
    findings = tunnel.judge(target, windows.http, cloudflared.find_cloudflared(), time.time())
    return judged("Tunnel", findings, windows.http)


def ports_check(windows, target, listing):
    findings = port_drift.judge(target, windows.http, listing) + appconfig.judge(target, listing)
    return judged("Ports", findings, windows.http)


def processes_check(windows, target, listing):
    now = time.time()
    findings = under_pm2.judge(target, listing, under_pm2.watched(target, listing, now), now)
    owners = care2.roots(target, listing)
    findings += processes.judge(owners, processes.family(owners)) + standstill.judge(target, windows.http, owners)
    return judged("Processes", findings, windows.http)


def without(listing: Jlist, name: str) -> Jlist:
    return Jlist(tuple(app for app in listing.apps if app.name != name))


def test_pm2_for_windows_jlist_is_read_with_its_paths(windows):
    listing = windows.jlist("jlist-pm2-windows.json")
    assert listing.names == ["careconnect-backend-prod", "careconnect-frontend-prod", "care2connect-caddy",
                             "care2connect-tunnel"]
    cloudflared = listing.app("care2connect-tunnel")
    assert cloudflared.script == r"C:\Program Files (x86)\cloudflared\cloudflared.exe"
    assert cloudflared.interpreter == "none"
    assert listing.app("careconnect-backend-prod").script == r"C:\Users\care2\Care2system\backend\dist\server.js"
    assert not any(app.shim_run_by_node for app in listing.apps)


def test_everything_under_pm2_for_windows_is_green(windows):
    windows.host("host-pm2-windows.json")
    target, listing = windows.target(), windows.jlist("jlist-pm2-windows.json")
    failed, check = tunnel_check(windows, target)
    assert failed == "" and check.warnings == []
    assert check.result.startswith("cloudflared PID 5412 runs 'care2connects-tunnel', up 2 h 0 min")
    failed, check = ports_check(windows, target, listing)
    assert failed == "", failed
    assert "backend on" in check.result and "PM2 app careconnect-backend-prod" in check.result
    failed, check = processes_check(windows, target, listing)
    assert failed == "" and check.warnings == [], failed
    assert "care2connect-tunnel online, pid 5412" in check.result


def test_a_listener_under_pm2_for_windows_is_seen_as_pm2s_by_its_daemon(windows):
    """PM2's daemon cannot rename itself on Windows: its command line is node.exe ...\\pm2\\lib\\Daemon.js."""
    windows.host("host-pm2-windows.json")
    (caddy,) = [listener for listener in ports.listeners() if listener.pid == 5388]
    assert ports.identify(caddy, windows.http, "/", apps=()).under_pm2


def test_cloudflared_as_a_windows_service_runs_the_named_tunnel(windows):
    windows.host("host-cloudflared-service.json")
    (process,) = cloudflared.find_cloudflared()
    assert (process.windows_service, str(process.config_path)) == (True, SERVICE_CONFIG)
    target = windows.target()
    listing = without(windows.jlist("jlist-pm2-windows.json"), "care2connect-tunnel")  # no PM2 entry
    failed, check = tunnel_check(windows, target)
    assert failed == "" and check.result.startswith("cloudflared PID 2968 runs 'care2connects-tunnel'"), failed
    assert f"config {windows.config} unchanged since it started" in check.result
    failed, check = ports_check(windows, target, listing)
    assert failed == "", failed
    failed, check = processes_check(windows, target, listing)
    assert failed == "", failed
    assert check.warnings == ["Processes: care2connect-tunnel (tunnel) is not in PM2's list, but cloudflared runs "
                              "outside PM2: PID 2968 as a Windows service; fix: if that is how this host runs it, set "
                              'pm2.optional = ["tunnel"]']
    failed, check = processes_check(windows, windows.target(SMOKE_PM2_OPTIONAL='["tunnel"]'), listing)
    assert (failed, check.warnings) == ("", [])


def test_a_tunnel_run_as_a_service_is_restarted_as_one(windows):
    windows.host("host-cloudflared-service.json")
    windows.config.touch()  # changed after the service started: it runs the old config
    failed, check = tunnel_check(windows, windows.target())
    assert "the running tunnel ignores that change" in failed
    assert "Restart-Service Cloudflared (PowerShell as administrator" in failed and "pm2 restart" not in failed
    # what `care2-predemo fix` runs for it: PowerShell's Restart-Service, then the tunnel's settle time
    assert [step.argv for fix in check.fixes for step in fix.steps] == [
        ("powershell", "-NoProfile", "-Command", "Restart-Service Cloudflared")]
    assert check.fixes[0].wait.seconds == windows.target().tunnel.min_uptime


def test_a_foreign_process_on_a_care2_port_is_stopped_by_its_pid_on_windows(windows, monkeypatch):
    """Another program on the backend's port (here: the frontend's listener, answering as the frontend)."""
    monkeypatch.setattr(fixes, "WINDOWS", True)
    host = windows.host("host-pm2-windows.json")
    frontend = windows.target().ports.frontend
    holder = next(pid for pid, _, port in host.listening if port == frontend)
    host.processes[holder].update(name="python.exe", cmdline=["python.exe", "-m", "http.server"])
    target = windows.target(SMOKE_PORTS_BACKEND=str(frontend))
    failed, check = ports_check(windows, target, windows.jlist("jlist-pm2-windows.json"))
    assert f"backend: port {frontend} is held by PID {holder} (python.exe -m http.server)" in failed, failed
    steps = [step for fix in check.fixes for step in fix.steps]
    assert steps[0].shown() == f'powershell -NoProfile -Command "Stop-Process -Id {holder} -Force"'
    assert steps[0].touches == f"process {holder} (python.exe -m http.server)" and steps[0].pid == holder
    assert steps[1].shown() == "pm2.cmd restart careconnect-backend-prod"


def test_a_service_whose_command_line_this_user_may_not_read(windows):
    host = windows.host("host-cloudflared-service.json")
    host.processes[2968].update(cmdline=None, cwd=None, rss=None)  # SYSTEM's, seen by a user who is not administrator
    failed, _ = tunnel_check(windows, windows.target())
    assert failed.startswith("Tunnel: cloudflared PID 2968 runs, but this user may not read its command line (it runs "
                             "as a Windows service, as SYSTEM)")
    assert "run the checks as administrator, or set tunnel.config" in failed
    failed, check = tunnel_check(windows, windows.target(SMOKE_TUNNEL_CONFIG=f"'{SERVICE_CONFIG}'"))
    assert failed == "" and "runs 'care2connects-tunnel'" in check.result, failed
    listing = without(windows.jlist("jlist-pm2-windows.json"), "care2connect-tunnel")
    failed, check = processes_check(windows, windows.target(SMOKE_PM2_OPTIONAL='["tunnel"]'), listing)
    assert (failed, check.warnings) == ("", [])  # what may not be read is no zombie


def test_npm_cmd_shim_run_by_node_is_a_red_loop_with_the_fix(windows):
    host = windows.host("host-pm2-windows.json")
    del host.processes[5244]  # nothing runs: each start died on the shim's first line
    host.listening = [entry for entry in host.listening if entry[0] != 5244]
    listing = windows.jlist("jlist-npm-cmd-shim.json")
    assert listing.app("careconnect-frontend-prod").shim_run_by_node
    failed, _ = processes_check(windows, windows.target(), listing)
    assert "careconnect-frontend-prod (pm_id 1, pid 0) is errored: PM2 gave up restarting it after 3 restarts" in failed
    assert r"PM2 runs the Windows shim C:\Program Files\nodejs\npm.cmd with Node" in failed
    assert "node_modules/next/dist/bin/next" in failed


def test_npm_cmd_run_through_cmd_is_green_its_port_held_by_the_node_child(windows):
    """interpreter: cmd, interpreter_args: /c: PM2's pid is cmd.exe; node.exe, its child, listens."""
    host = windows.host("host-pm2-windows.json")
    host.processes[5244].update(name="cmd.exe", cmdline=[r"C:\Windows\system32\cmd.exe", "/c",
                                                        r"C:\Program Files\nodejs\npm.cmd", "start"], rss=4194304)
    node = [r"C:\Program Files\nodejs\node.exe", r"node_modules\next\dist\bin\next", "start"]
    host.processes[5301] = {**host.processes[5244], "pid": 5301, "ppid": 5244, "name": "node.exe", "rss": 125829120,
                            "cmdline": node}
    host.listening = [(5301 if pid == 5244 else pid, ip, port) for pid, ip, port in host.listening]
    listing = windows.jlist("jlist-pm2-windows.json")
    shim = dataclasses.replace(listing.app("careconnect-frontend-prod"), script=r"C:\Program Files\nodejs\npm.cmd",
                               interpreter="cmd", memory=4194304)
    listing = Jlist(tuple(shim if app.name == shim.name else app for app in listing.apps))
    assert not shim.shim_run_by_node
    failed, _ = processes_check(windows, windows.target(), listing)
    assert failed == "", failed
    failed, check = ports_check(windows, windows.target(), listing)
    assert failed == "", failed
    assert "frontend on" in check.result and "PID 5301 node.exe (PM2 app careconnect-frontend-prod" in check.result


@pytest.mark.parametrize("script, interpreter, shim", [
    (r"C:\Program Files\nodejs\npm.cmd", r"C:\Program Files\nodejs\node.exe", True),
    (r"C:\Users\care2\Care2system\frontend\node_modules\.bin\next.CMD", "node", True),
    (r"C:\Program Files\nodejs\npm.cmd", "cmd", False),  # interpreter: cmd, interpreter_args: /c: it runs
    (r"C:\Users\care2\Care2system\frontend\node_modules\next\dist\bin\next", "node", False),
    ("/usr/bin/npm", "node", False),
])
def test_which_shims_node_cannot_run(script, interpreter, shim):
    app = App("careconnect-frontend-prod", 1, 0, "errored", None, 3, 3, 0, 0.0, script=script, interpreter=interpreter)
    assert app.shim_run_by_node == shim


def test_a_windows_config_path_is_absolute_on_any_os():
    command = cloudflared.parse_command([r"C:\Program Files (x86)\cloudflared\cloudflared.exe", "--config",
                                         SERVICE_CONFIG, "tunnel", "run"])
    process = cloudflared.Cloudflared(2968, (), 0.0, r"C:\Windows\system32", command, "services.exe")
    assert str(process.config_path) == SERVICE_CONFIG and process.windows_service
    relative_command = cloudflared.parse_command(["cloudflared", "--config", "c.yml"])
    relative = cloudflared.Cloudflared(1, (), 0.0, "/srv/care2", relative_command)
    assert relative.config_path == Path("/srv/care2/c.yml") and not relative.windows_service


def test_a_suspended_backend_is_red_named_as_windows_says_it(windows):
    """psutil on Windows: "stopped" when every thread of the process is suspended (there is no state T)."""
    host = windows.host("host-pm2-windows.json")
    host.processes[5120]["status"] = psutil.STATUS_STOPPED
    failed, _ = processes_check(windows, windows.target(), windows.jlist("jlist-pm2-windows.json"))
    assert failed.startswith(
        "Processes: PID 5120 (PM2 app careconnect-backend-prod, 'online') is suspended (every thread of it): online in "
        f"PM2 but suspended; port {windows.ports['backend']} accepts connections for it and nothing answers"), failed
    assert "fix: restart it, not start it (PM2 counts it as online): pm2 restart careconnect-backend-prod" in failed
    assert "state T" not in failed


def test_a_backend_that_accepts_and_answers_nothing_hangs(windows):
    host = windows.host("host-pm2-windows.json")
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the OS accepts for it; nobody ever answers
        port = silent.getsockname()[1]
        host.listening = [(pid, ip, port if pid == 5120 else listened) for pid, ip, listened in host.listening]
        listing = windows.jlist("jlist-pm2-windows.json")
        failed, _ = processes_check(windows, windows.target(SMOKE_PORTS_BACKEND=str(port)), listing)
    assert (f"PID 5120 (PM2 app careconnect-backend-prod, 'online') accepts connections on port {port} but answers "
            "nothing in 1 s: it hangs, online in PM2") in failed, failed
    assert "restart it, not start it" in failed and "is stopped" not in failed


@pytest.mark.skipif(Path(r"C:\Users").is_absolute(), reason="makes the sample's Windows folder as one relative name")
def test_a_frontend_built_for_another_port_is_named_in_its_windows_folder(windows, monkeypatch, tmp_path):
    """The frontend's folder is its process's working folder (psutil's cwd), its build Next's .next as Next writes it
    on any OS (the real app's routes manifest, built for port 3002)."""
    windows.host("host-pm2-windows.json")
    folder = r"C:\Users\care2\Care2system\frontend"
    monkeypatch.chdir(tmp_path)
    dist = windows_folder(tmp_path, folder) / ".next"
    dist.mkdir(parents=True)
    real = (ROOT / "fixtures" / "next" / "routes-manifest.json").read_text(encoding="utf-8")
    (dist / "routes-manifest.json").write_text(real.replace("localhost:3001", "localhost:3002"), encoding="utf-8")
    (dist / "BUILD_ID").write_text("G8Eeowanj38eOFCvROaVQ", encoding="utf-8")
    target, listing = windows.target(), windows.jlist("jlist-pm2-windows.json")
    owners = care2.roots(target, listing)
    assert build.frontend_folder(target, listing, owners) == folder
    built = build.built_rewrite(folder, target.paths.rewrite_probe, build.backend_ports(owners))
    assert built.elsewhere
    assert built.sentence.startswith(rf"the frontend in {folder} was built with /api → http://localhost:3002/api "
                                     "(build G8Eeowanj38eOFCvROaVQ, built ")
    assert built.sentence.endswith(f"while the backend listens on {windows.ports['backend']}")


SERVICE_LOG = r"C:\Windows\System32\config\systemprofile\.cloudflared\cloudflared.log"
WINDOWS_LOGS = {  # where the demo host keeps them -> the sample that stands for it
    r"C:\Users\care2\Care2system\backend\logs\backend-prod-error.log": "backend-prod-error.log",
    SERVICE_LOG: "cloudflared.log", r"C:\Users\care2\.pm2\pm2.log": "pm2.log"}


def windows_logs(windows, tmp_path, found: list[logs.Source]) -> log_signs.HostLogs:
    """The host's logs read from the samples standing for them (times N minutes ago filled in), this run started
    a minute ago."""
    now = time.time()
    times = {f"local_{n}": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now - 60 * n)) for n in range(100)}
    times |= {f"utc_{n}": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60 * n)) for n in range(100)}
    read = []
    for source in found:
        name = WINDOWS_LOGS.get(str(source.path))
        if name is None:
            continue
        copy = tmp_path / name
        copy.write_text(sample(f"logs/{name}", **windows.ports, **times), encoding="utf-8")
        read.append(dataclasses.replace(source, path=copy))
    return log_signs.HostLogs(read, None, now - 60)


def test_the_logs_of_a_windows_host_are_found_where_pm2_and_the_service_keep_them(windows):
    windows.host("host-cloudflared-service.json")
    target, listing = windows.target(), windows.jlist("jlist-pm2-windows.json")
    found = logs.sources(target, listing.apps, cloudflared.care2_tunnels(target.tunnel.name))
    where = {(source.role, str(source.path)) for source in found}
    assert ("backend", r"C:\Users\care2\Care2system\backend\logs\backend-prod-error.log") in where
    assert ("backend", r"C:\Users\care2\Care2system\backend\logs\backend-prod-out.log") in where
    assert ("pm2", r"C:\Users\care2\.pm2\pm2.log") in where  # PM2_HOME's own log
    assert ("tunnel", SERVICE_LOG) in where  # the service's config's logfile:, not under its working folder


def test_a_windows_hosts_logs_give_evidence_and_signs(windows, tmp_path):
    windows.host("host-cloudflared-service.json")
    target, listing = windows.target(), windows.jlist("jlist-pm2-windows.json")
    found = logs.sources(target, listing.apps, cloudflared.care2_tunnels(target.tunnel.name))
    host = windows_logs(windows, tmp_path, found)
    evidence = host.evidence("backend")
    assert len(evidence) == 1, evidence  # the EADDRINUSE 40 min ago is older than the run
    assert STORY_ERROR_EVIDENCE.fullmatch(evidence[0]), evidence
    signs = host.signs(time.time(), listing.apps)
    proxy = windows.ports["proxy"]
    [origin] = signs["tunnel"]  # each request logged twice by cloudflared, counted once
    assert f"2 origin errors ('Unable to reach the origin service') in the last hour: [::1]:{proxy} 2 times" \
        in origin.what
    assert origin.what.endswith("No connection could be made because the target machine actively refused it.)")
    assert "use http://127.0.0.1:PORT in the ingress" in origin.fix
    [port] = signs["ports"]
    assert port.what.startswith("careconnect-backend-prod's log says a port was in use 1 time in the last hour")
    assert "EADDRINUSE" in port.what
    [crash] = signs["processes"]  # the Caddy was stopped by hand: not a crash
    assert crash.what.startswith("careconnect-frontend-prod crashed 1 time in the last hour (PM2's log; last ")
    assert crash.what.endswith(": code 1, signal SIGINT)")
