"""The pre-demo checklist, host part: the tunnel process, the ports and the processes of the machine that runs the app.

Read from the OS (psutil), from PM2 and from cloudflared's metrics server; skipped where the
environment is not checked from this machine (host_checks = false). A check reports every
problem it finds, each with its fix, rather than stopping at the first. The probes in smoke/probes
read and judge; these checks report what they found.
"""

import time

import pytest

# Each check imports its probes itself: a run without host checks loads none of them (psutil, PyYAML...).

pytestmark = [pytest.mark.predemo, pytest.mark.host]


def test_tunnel_stable(target, check, http, host_logs):
    """(6) Tunnel: process stable: the named tunnel runs, has settled, runs its current config and is connected;
    its log shows no origin it could not reach in the last hour."""
    from smoke.probes import cloudflared, tunnel

    check.concerns("tunnel")
    now = time.time()
    findings = tunnel.judge(target, http, cloudflared.find_cloudflared(), now) + host_logs.signs(now)["tunnel"]
    check.passed("; ".join(check.report_findings("Tunnel", findings)))


def test_port_drift(target, check, http, pm2_list, host_logs):
    """(8) Ports: each service listens on its configured port and is the program expected there; the configs agree;
    no app's log says its port was in use in the last hour."""
    from smoke.probes import appconfig, port_drift

    check.concerns("backend", "frontend", "proxy")
    findings = port_drift.judge(target, http, pm2_list) + appconfig.judge(target, pm2_list)
    findings += host_logs.signs(time.time())["ports"]
    check.passed("; ".join(check.report_findings("Ports", findings)))


def test_dual_stack(target, check):
    """(8) Ports: dual stack: every client here that dials an origin by the name localhost reaches the service."""
    from smoke.probes import dualstack

    notes = check.report_findings("Dual stack", dualstack.judge(target))
    check.passed("; ".join(notes) or "no origin dialled by name on this host")


def test_processes(target, check, http, pm2_list, host_logs):
    """(9) Processes: every Care2 app really runs under PM2 (no zombie, no restart loop, none stopped or hung); no
    zombie process; no crash and no memory near PM2's limit in the last hour."""
    from smoke.probes import care2, processes, standstill, under_pm2

    check.concerns("backend", "frontend", "proxy", "tunnel")
    now = time.time()
    later = under_pm2.watched(target, pm2_list, now)  # PM2's list again a few seconds on, if an app just restarted
    owners = care2.roots(target, pm2_list)
    findings = under_pm2.judge(target, pm2_list, later, now)
    findings += host_logs.signs(now, care2.apps(target, pm2_list))["processes"]
    findings += processes.judge(owners, processes.family(owners)) + standstill.judge(target, http, owners)
    check.passed("; ".join(check.report_findings("Processes", findings)))


def test_local_path(target, check, local_path):
    """(12) Path on this host: each public host name, asked hop by hop as the tunnel and the proxy ask, reaches its
    app."""
    from smoke.probes import path

    check.concerns("tunnel", "proxy", "frontend", "backend")
    check.passed("; ".join(check.report_findings("Path", path.judge(local_path()))))
