"""(9) Processes: every Care2 app PM2 should run is in its list and really runs (not a zombie entry, not looping,
serving its port). The facts come from pm2.py (PM2's list), ports.py (listeners) and cloudflared.py.
"""

from __future__ import annotations

import time

from ..target import Target
from ..text import duration, size
from . import cloudflared, fixes, ports
from .findings import Finding
from .pm2 import App, Jlist, PM2Error, apps_of, read_jlist

LOOP_WATCH = 3.0  # seconds to watch a recently restarted app for another restart


def memory(count: int | None) -> str:
    return "no memory figure" if count is None else size(count)


def watched(target: Target, listing: Jlist | PM2Error | None, now: float) -> Jlist | None:
    """PM2's list LOOP_WATCH seconds later, when an app restarted recently without PM2 calling it unstable:
    a restart count that rises in the meantime is a loop; one that does not, a restart by hand."""
    if not any(recently_restarted(target, app, now) and app.online and not app.unstable_restarts
               for app in apps_of(listing)):
        return None
    time.sleep(LOOP_WATCH)
    try:
        return read_jlist(target.pm2.command, target.pm2.timeout)
    except PM2Error:
        return None


def recently_restarted(target: Target, app: App, now: float) -> bool:
    """Restarted, and last (re)started less than pm2.min_uptime ago: online, or between two runs of a loop."""
    uptime = app.uptime(now)
    return (app.online or between_runs(app)) and app.restarts > 0 and uptime is not None \
        and uptime < target.pm2.min_uptime


def between_runs(app: App) -> bool:
    """PM2 is restarting it right now: it exited and PM2 keeps its old pid until the next run ("stopped" with
    a pid), or the next run is starting ("launching", "waiting restart"). A `pm2 stop` leaves pid 0."""
    return (app.status == "stopped" and app.pid > 0) or app.status in ("launching", "waiting restart")


def judge(target: Target, listing: Jlist | PM2Error | None, later: Jlist | None, now: float) -> list[Finding]:
    """Every Care2 app PM2 should run is in its list and really runs; a note for each that does.
    ``later``: PM2's list a few seconds on (see watched), or None."""
    if listing is None:
        return [Finding("note", "PM2 not used here (pm2.apps is empty)")]
    if isinstance(listing, PM2Error):
        return [Finding("fail", f"PM2: {listing}", listing.fix)]
    if listing.daemon_started:
        return [Finding(
            "fail",
            f"PM2: its daemon was not running, so `{' '.join(target.pm2.command)}` started a new, empty one: "
            "none of the Care2 apps runs under this PM2",
            f"pm2 resurrect (if the apps were saved with pm2 save), else pm2 start {fixes.ecosystem_file(target)}; "
            "if the apps run as another user or PM2_HOME, run the checks as that user",
        )]
    findings = [Finding("warn", f"PM2 says: {note}") for note in listing.notes]
    for role, name in target.pm2.apps.items():
        app = listing.app(name)
        outside = cloudflared.care2_tunnels(target.tunnel.name) if app is None and role == "tunnel" else []
        if outside and role in target.required_apps:  # e.g. cloudflared installed as a Windows service
            findings.append(Finding(
                "warn",
                f"{name} (tunnel) is not in PM2's list, but cloudflared runs outside PM2: "
                + "; ".join(f"PID {process.pid}" + (" as a Windows service" if process.windows_service else "")
                            for process in outside),
                'if that is how this host runs it, set pm2.optional = ["tunnel"]',
            ))
            continue
        if app is None:
            if role in target.required_apps:
                findings.append(Finding(
                    "fail", f"{name} ({role}) is not in PM2's list (PM2 has: {', '.join(listing.names) or 'no apps'})",
                    fixes.start(target, name),
                ))
            continue
        found = judge_app(target, role, app, later.app(name) if later else None, now)
        findings += found
        if not any(finding.severity == "fail" for finding in found):
            findings.append(Finding("note", f"{name} online, pid {app.pid}, {memory(app.memory)}, "
                                            f"up {duration(app.uptime(now) or 0)}"))
    return findings


def judge_app(target: Target, role: str, app: App, later: App | None, now: float) -> list[Finding]:
    """What is wrong with one PM2 app: not online, looping, a zombie, or not serving. ``later``: the same
    app a few seconds on, when it had restarted recently (else None)."""
    settings = target.pm2
    eco, logs = fixes.ecosystem_file(target), fixes.logs(target, role)
    recreate = fixes.recreate(target, app.name)
    redo = recreate.saying(f"{recreate}; if it comes back the same, PM2's daemon itself is stale: pm2 update")
    loop_fix = f"it crashes soon after it starts: read {logs}, fix the cause, then pm2 restart {app.name}"
    if app.shim_run_by_node:
        loop_fix = (f"PM2 runs the Windows shim {app.script} with Node, which cannot read it (a SyntaxError on its "
                    f"first line in {logs}): in {eco} give {app.name} the JavaScript file the shim starts as its "
                    f"script (Next: node_modules/next/dist/bin/next, args start), then "
                    f"{fixes.recreate(target, app.name)}")
    if app.status in ("stopped", "stopping") and not between_runs(app):
        return [Finding("fail", f"{app.label} is {app.status} in PM2", fixes.restart(target, role))]
    if app.status == "errored":
        return [Finding("fail", f"{app.label} is errored: PM2 gave up restarting it after {app.restarts} restarts",
                        loop_fix)]
    uptime = app.uptime(now)
    findings = []
    if recently_restarted(target, app, now):
        rose = later is not None and (later.restarts > app.restarts or later.pid != app.pid)
        if app.unstable_restarts or rose or not app.online:
            unstable = f", {app.unstable_restarts} of them unstable" if app.unstable_restarts else ""
            climbing = f", {app.restarts} -> {later.restarts} within {LOOP_WATCH:g} s" if rose else ""
            up = (f"up only {duration(uptime)}" if app.online
                  else f"{app.status!r} now, {duration(uptime)} after its last start")
            return [Finding(
                "fail",
                f"{app.label}: restart loop: {app.restarts} restarts{unstable}{climbing}, {up} (an app must stay up "
                f"{duration(settings.min_uptime)})",
                loop_fix,
            )]
        findings.append(Finding(
            "warn",
            f"{app.name} restarted {duration(uptime)} ago (restart {app.restarts}) and not again within "
            f"{LOOP_WATCH:g} s",
            f"if nobody restarted it by hand, watch it: {logs}",
        ))
    if not app.online:
        return [Finding("fail", f"{app.label} is {app.status!r} after {app.restarts} restarts: a restart loop",
                        loop_fix)]
    why = ""
    if app.process() is None:
        missing = f"no live process has pid {app.pid}" if app.pid > 0 else "it has no pid (0)"
        why = f"{missing} (PM2 shows {memory(app.memory)} of memory)"
    elif app.memory is None or app.memory < settings.memory_floor:
        why = (f"it shows {memory(app.memory)} of memory, under the {settings.memory_floor} b floor: PM2 cannot see "
               "the process")
    if why:
        return [*findings,
                Finding("fail", f"{app.label}: PM2 says online, but {why}: a zombie entry, nothing is serving", redo)]
    port = target.service_port(role)
    if port and not ports.listeners_of(app.pid):
        return [*findings, Finding(
            "fail",
            f"{app.label}: online and alive, but neither it nor a child listens on any port (expected {port}): "
            "it is not serving", redo,
        )]
    if not recently_restarted(target, app, now) and (app.restarts > settings.max_restarts or app.unstable_restarts):
        findings.append(Finding(
            "warn",
            f"{app.name} has restarted {app.restarts} times ({app.unstable_restarts} unstable) since PM2 first "
            f"started it; stable for {duration(uptime or 0)} now ({logs} tells why)",
        ))
    return findings
