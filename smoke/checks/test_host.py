"""The pre-demo checklist, host part: the tunnel process, the ports and the processes of the machine that runs the app.

Read from the OS (psutil), from PM2 and from cloudflared's metrics server; skipped where the
environment is not checked from this machine (host_checks = false). A check reports every
problem it finds, each with its fix, rather than stopping at the first.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest

from smoke.probes import dualstack, ports, tunnel
from smoke.probes.appconfig import disagreements, ecosystem_file
from smoke.probes.findings import Finding
from smoke.probes.pm2 import App, Jlist, PM2Error, read_jlist
from smoke.probes.processes import family
from smoke.text import duration, size

pytestmark = [pytest.mark.predemo, pytest.mark.host]

HTTP_ROLES = ("frontend", "backend")
LOOP_WATCH = 3.0  # seconds to watch a recently restarted app for another restart


class Problem(NamedTuple):
    what: str
    fix: str = ""


def report(check, title: str, problems: list[Problem]) -> None:
    """Fail with every problem, each with its fix; nothing when there is none."""
    check.weigh(title, [Finding("fail", problem.what, problem.fix) for problem in problems])


def clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def memory(count: int | None) -> str:
    return "no memory figure" if count is None else size(count)


def kill(pid: int | None) -> str:
    return f"kill {pid} (Windows: taskkill /PID {pid} /F)" if pid else "stop it (its PID is not visible to this user)"


def restart(target, role: str) -> str:
    name = target.pm2.apps.get(role)
    if name:
        return f"pm2 restart {name}"
    if role == "tunnel":
        return f"restart cloudflared (cloudflared tunnel run {target.tunnel.name})"
    return f"restart the {role}"


def restart_tunnel(target, process: tunnel.Cloudflared) -> str:
    """How to restart this cloudflared: as the Windows service it runs as, else as the environment runs it."""
    if process.windows_service:
        return f"Restart-Service {tunnel.WINDOWS_SERVICE} (PowerShell as administrator: it runs as a Windows service)"
    return restart(target, "tunnel")


def care2_tunnels(target) -> list[tunnel.Cloudflared]:
    """The cloudflared processes that may be Care2's: not those that run another named tunnel."""
    return [process for process in tunnel.find_cloudflared() if process.command.name in ("", target.tunnel.name)]


def logs(target, role: str) -> str:
    name = target.pm2.apps.get(role)
    return f"pm2 logs {name} --lines 50" if name else f"the {role}'s log"


def pm2_apps(pm2_list) -> tuple[App, ...]:
    return pm2_list.apps if isinstance(pm2_list, Jlist) else ()


# --- (6) tunnel ------------------------------------------------------------------------------------------------------


class Running(NamedTuple):
    process: tunnel.Cloudflared
    config: tunnel.TunnelConfig | None
    config_error: str
    names: tuple[str, ...]  # the tunnel as the command line and the config name it


def running(process: tunnel.Cloudflared, configured: str) -> Running:
    path = process.config_path or (Path(configured).expanduser() if configured else None)
    config, error = None, ""
    if path is not None:
        try:
            config = tunnel.TunnelConfig.read(path)
        except tunnel.TunnelConfigError as failure:
            error = str(failure)
    names = tuple(name for name in (process.command.name, config.tunnel if config else "") if name)
    return Running(process, config, error, names)


def same_file(first: Path, second: str) -> bool:
    try:
        return os.path.samefile(first, Path(second).expanduser())
    except OSError:
        return Path(first).resolve() == Path(second).expanduser().resolve()


def test_tunnel_stable(target, check, http):
    """(6) Tunnel: process stable: the named tunnel runs, has settled, runs its current config and is connected."""
    now = time.time()
    settings = target.tunnel
    expected = settings.name
    start = restart(target, "tunnel")
    processes = tunnel.find_cloudflared()
    if not processes:
        check.fail(f"Tunnel: no cloudflared process runs on this host (expected the named tunnel {expected!r})",
                   fix=f"start it: {start}, then wait {duration(settings.min_uptime)} before the demo")
    runs = [running(process, settings.config) for process in processes if process.command.kind == "named"]
    ours = [run for run in runs if expected in run.names] or [
        run for run in runs if not run.names and run.process.command.token
    ]
    if not ours:
        check.fail(*wrong_tunnel(target, processes, runs))
    for other in processes:
        if all(run.process.pid != other.pid for run in ours):
            what = {"quick": "a quick tunnel", "named": "another tunnel"}.get(other.command.kind, "another cloudflared")
            check.warn(f"{what} runs beside the named tunnel: PID {other.pid} `{other.shown}`; "
                       f"stop it unless it is meant to run: {kill(other.pid)}")
    problems, results = [], []
    for run in ours:
        found, result = tunnel_problems(target, check, http, run, now)
        problems += found
        results.append(result)
    report(check, "Tunnel", problems)
    check.passed("; ".join(results))


def wrong_tunnel(target, processes: list[tunnel.Cloudflared], runs: list[Running]) -> tuple[str, None, str]:
    """The failure when no cloudflared runs the named tunnel: a quick tunnel, another tunnel, or no tunnel at all."""
    expected = target.tunnel.name
    quick = [process for process in processes if process.command.kind == "quick"]
    app = target.pm2.apps.get("tunnel")
    eco = ecosystem_file(target)
    named = f"cloudflared tunnel run {expected}" + (
        f" (under PM2: give {app} the args `tunnel run {expected}` in {eco}, then pm2 delete {app} && "
        f"pm2 start {eco} --only {app})" if app else ""
    )
    unreadable = [run.process for run in runs if not run.process.cmdline and not run.names]
    if unreadable:
        process = unreadable[0]
        service = " (it runs as a Windows service, as SYSTEM)" if process.windows_service else ""
        return (
            f"Tunnel: cloudflared PID {process.pid} runs, but this user may not read its command line{service}, "
            f"so whether it runs the named tunnel {expected!r} cannot be seen",
            None,
            "run the checks as administrator, or set tunnel.config to the config file it runs with (its `tunnel:` "
            "names the tunnel)",
        )
    if quick:
        process = quick[0]
        return (
            f"Tunnel: cloudflared PID {process.pid} runs a quick tunnel `{process.shown}`, not the named tunnel "
            f"{expected!r}: a quick tunnel serves a random trycloudflare.com address, not {target.site_url}",
            None,
            f"stop it: {kill(process.pid)}; then run the named tunnel: {named}",
        )
    if runs:
        seen = "; ".join(
            f"PID {run.process.pid} `{run.process.shown}` ({', '.join(run.names) or 'tunnel name not readable'})"
            for run in runs
        )
        return (
            f"Tunnel: cloudflared runs another tunnel than {expected!r}: {seen}",
            None,
            f"run the named tunnel: {named}; if the tunnel seen is the right one, set tunnel.name to its name",
        )
    seen = "; ".join(f"PID {process.pid} `{process.shown}`" for process in processes)
    return f"Tunnel: no cloudflared process runs a tunnel (seen: {seen})", None, f"start the named tunnel: {named}"


def tunnel_problems(target, check, http, run: Running, now: float) -> tuple[list[Problem], str]:
    settings = target.tunnel
    process = run.process
    who = f"cloudflared PID {process.pid}"
    start = restart_tunnel(target, process)
    settle = f"then wait {duration(settings.min_uptime)} before the demo"
    problems = []
    if run.config_error:
        problems.append(Problem(f"{who}: {run.config_error}",
                                "fix the file, or tunnel.config in the environments file"))
    if settings.config and process.config_path and not same_file(process.config_path, settings.config):
        problems.append(Problem(
            f"{who} runs with --config {process.config_path}, while tunnel.config names {settings.config}: "
            "the config checked is not the one running",
            f'set tunnel.config = "{process.config_path}", or restart cloudflared with --config {settings.config}',
        ))
    uptime = process.uptime(now)
    if uptime < settings.min_uptime:
        problems.append(Problem(
            f"{who} has been up only {duration(uptime)} (started {clock(process.started)}); the pre-demo rule is "
            f"up for more than {duration(settings.min_uptime)}",
            f"wait {duration(settings.min_uptime - uptime)} and run the checks again; if it keeps restarting, "
            f"read {logs(target, 'tunnel')}",
        ))
    elif uptime > settings.max_uptime:
        problems.append(Problem(
            f"{who} has been running for {duration(uptime)}, since {clock(process.started)}: longer than the "
            f"{duration(settings.max_uptime)} limit, so it probably runs an old config",
            f"{start}, {settle}",
        ))
    if run.config and run.config.modified > process.started + tunnel.START_TIME_SLACK:
        problems.append(Problem(
            f"{who} started at {clock(process.started)}, before its config {run.config.path} last changed at "
            f"{clock(run.config.modified)}: the running tunnel ignores that change",
            f"{start} so it reads its config, {settle}",
        ))
    urls, skipped = tunnel.metrics_urls(process, run.config.metrics if run.config else "", settings.metrics)
    for address in skipped:
        check.warn(f"{who}: metrics address {address} is not on this host's loopback; not asked")
    metrics = tunnel.find_metrics(http, urls)
    if metrics is None:
        problems.append(Problem(
            f"{who}: no cloudflared metrics server answers /ready (tried {', '.join(urls)}), so whether the tunnel "
            "has edge connections cannot be seen",
            'run cloudflared with --metrics 127.0.0.1:20241 and set tunnel.metrics = "127.0.0.1:20241"',
        ))
        return problems, ""
    ready = metrics.readiness
    if not ready.ready:
        problems.append(Problem(
            f"{who}: {metrics.base_url}/ready answered {ready.describe()}: the tunnel has no edge connection, "
            "so visitors get Cloudflare error 1033",
            f"read {logs(target, 'tunnel')} (credentials, network, clock), then {start}, {settle}",
        ))
        return problems, ""
    connections = min(count for count in (ready.ready_connections, metrics.ha_connections) if count is not None)
    if connections < settings.ha_connections:
        check.warn(f"{who}: {connections:g} of {settings.ha_connections} edge connections up "
                   f"({metrics.base_url}/ready: {ready.describe()}; cloudflared_tunnel_ha_connections "
                   f"{metrics.ha_connections if metrics.ha_connections is not None else 'not reported'}): "
                   "the tunnel works but has less redundancy")
    version = f", cloudflared {metrics.version}" if metrics.version else ""
    config = f"; config {run.config.path} unchanged since it started" if run.config else "; config file not known"
    return problems, (
        f"{who} runs {target.tunnel.name!r}, up {duration(process.uptime(now))} (since {clock(process.started)})"
        f"{config}; {metrics.base_url}/ready: {ready.ready_connections} connections{version}"
    )


# --- ports -----------------------------------------------------------------------------------------------------------


def confirmed(identity: ports.Identity, role: str, app_name: str | None) -> bool:
    """The holder is the role's program: by the X-Care2-Origin it answers with, else by PM2's record of it."""
    if role == "proxy":  # the proxy has no identity of its own: it is PM2's, or answers like our Caddy does
        by_pm2 = app_name is not None and identity.pm2_app == app_name
        return by_pm2 or identity.invalid_hostname or identity.origin in HTTP_ROLES
    if identity.origin is not None:
        return identity.origin == role
    return app_name is not None and identity.pm2_app == app_name


def test_port_drift(target, check, http, pm2_list):
    """(8) Ports: each service listens on its configured port and is the program expected there; the configs agree."""
    apps = pm2_apps(pm2_list)
    problems, results = [], []
    configured = {port for role in ("frontend", "backend", "proxy") if (port := target.service_port(role))}
    # the site's and API's own URLs, where they are on this host, are doors we were told to use (a local
    # proxy in front of the frontend answers as the frontend), never a stray second instance
    configured |= {parts.port for url in (target.site_url, target.api_url)
                   if (parts := urlsplit(url)).port and ports.is_loopback(parts.hostname or "")}
    for role in ("frontend", "backend", "proxy"):
        port = target.service_port(role)
        if not port:
            continue
        app_name = target.pm2.apps.get(role)
        path = {"frontend": target.paths.site_health, "backend": target.paths.api_live}.get(role, "/")
        holders = [ports.identify(listener, http, path, apps) for listener in ports.listening_on(port)]
        drifted = [] if role == "proxy" else [
            identity
            for listener in ports.failover(port, target.ports.failover_span)
            if listener.port not in configured  # another service's own port is that service's business
            and ((identity := ports.identify(listener, http, path, apps)).origin == role
                 or (app_name is not None and identity.pm2_app == app_name))
        ]
        found = port_problems(target, role, port, holders, drifted, pm2_list)
        problems += found
        if not found:
            results += [f"{role} on {port}: PID {holder.listener.pid} ({holder.evidence})" for holder in holders]
    for disagreement in disagreements(target, apps):
        problems.append(Problem(disagreement.describe(), disagreement.fix))
    report(check, "Ports", problems)
    files = [path for path in (*target.app_config.model_dump().values(), target.tunnel.config) if path]
    results.append(f"{len(files)} config file(s) agree with the environments file" if files
                   else "no app config file named in the environments file to compare")
    check.passed("; ".join(results))


def port_problems(target, role: str, port: int, holders: list[ports.Identity], drifted: list[ports.Identity],
                  pm2_list: Jlist | PM2Error | None = None) -> list[Problem]:
    app_name = target.pm2.apps.get(role)
    start = restart(target, role)
    if app_name and isinstance(pm2_list, Jlist) and pm2_list.app(app_name) is None:
        start = f"pm2 start {ecosystem_file(target)} --only {app_name}"  # not in PM2's list: nothing to restart
    elsewhere = "; ".join(f"port {d.listener.port}: {d.describe()}" for d in drifted)
    if not holders:
        if drifted:
            moved = drifted[0].listener.port
            return [Problem(
                f"{role}: configured port {port}, but nothing listens there; the {role} listens on port {moved} "
                f"instead: {elsewhere}",
                f"make the {role} bind {port}: free port {port} if something held it when the {role} started (it "
                f"then moves up to +{target.ports.failover_span}), make every place that sets its port say {port}, "
                f"then {start}; if {moved} is meant, change ports.{role} and every place that says {port}",
            )]
        return [Problem(f"{role}: nothing listens on port {port} (ports.{role})",
                        f"start it: {start}; see {logs(target, role)}")]
    problems = [
        Problem(
            f"{role}: port {port} is held by {holder.describe()}, which is not the {role}"
            + (f"; the {role} listens on {elsewhere}" if drifted else ""),
            f"stop the foreign process: {kill(holder.listener.pid)}, then {start} so the {role} binds port {port}",
        )
        for holder in holders
        if not confirmed(holder, role, app_name)
    ]
    if not problems and drifted:
        problems.append(Problem(
            f"{role}: a second {role} listens beside port {port}: {elsewhere}",
            f"an old instance: stop it: {'; '.join(kill(d.listener.pid) for d in drifted)}",
        ))
    return problems


# --- dual stack ------------------------------------------------------------------------------------------------------


def dialled_origins(target) -> tuple[list[dualstack.Dialled], list[str]]:
    """Each loopback origin some client on this host dials, from the tunnel's ingress and the environment's URLs;
    and the configs that could not be read."""
    found: dict[tuple[str, int], list[dualstack.Dialled]] = {}
    unread = []
    configs = [target.tunnel.config] if target.tunnel.config else [
        str(process.config_path) for process in tunnel.find_cloudflared() if process.config_path
    ]
    for path in dict.fromkeys(configs):
        try:
            config = tunnel.TunnelConfig.read(path)
        except tunnel.TunnelConfigError as error:
            unread.append(str(error))
            continue
        for rule in config.ingress:
            if rule.origin and ports.is_loopback(rule.origin[0]):
                found.setdefault(rule.origin, []).append(dualstack.Dialled(
                    *rule.origin, f"the tunnel ingress for {rule.hostname or 'every other host'}",
                    f"the tunnel ingress ({config.path})", by_tunnel=True))
    for what, url in (("site", target.site_url), ("API", target.api_url)):
        origin = tunnel.Ingress("", url).origin
        if origin and origin[0] == "localhost":
            found.setdefault(origin, []).append(dualstack.Dialled(*origin, f"the {what} URL {url}"))
    return [
        dualstack.Dialled(host, port, " and ".join(d.who for d in dialled),
                          next((d.place for d in dialled if d.place), ""), any(d.by_tunnel for d in dialled))
        for (host, port), dialled in found.items()
    ], unread


def test_dual_stack(target, check):
    """(8) Ports: dual stack: every client here that dials an origin by the name localhost reaches the service."""
    origins, unread = dialled_origins(target)
    for problem in unread:
        check.warn(f"dual stack: {problem}; its ingress is not checked")
    resolved = dualstack.resolve("localhost")
    findings = [
        finding
        for origin in origins
        for finding in dualstack.judge(origin, resolved, dualstack.reach(origin.port, target.budgets.connect))
    ]
    results = check.weigh("Dual stack", findings)
    if not origins:
        check.warn("dual stack not checked: no origin here is dialled by the name localhost as far as the "
                   "environments file tells (set tunnel.config to check the tunnel's ingress)")
    check.passed("; ".join(results) or "no origin dialled by name on this host")


# --- processes -------------------------------------------------------------------------------------------------------


def test_processes(target, check, pm2_list):
    """(9) Processes: every Care2 app really runs under PM2 (no zombie, no restart loop); no zombie process."""
    now = time.time()
    problems, results = [], []
    if pm2_list is None:
        results.append("PM2 not used here (pm2.apps is empty)")
    elif isinstance(pm2_list, PM2Error):
        problems.append(Problem(f"PM2: {pm2_list}", pm2_list.fix))
    elif pm2_list.daemon_started:
        problems.append(Problem(
            f"PM2: its daemon was not running, so `{' '.join(target.pm2.command)}` started a new, empty one: "
            "none of the Care2 apps runs under this PM2",
            f"pm2 resurrect (if the apps were saved with pm2 save), else pm2 start {ecosystem_file(target)}; if the "
            "apps run as another user or PM2_HOME, run the checks as that user",
        ))
    else:
        for note in pm2_list.notes:
            check.warn(f"PM2 says: {note}")
        found, seen = pm2_problems(target, check, pm2_list, now, watched(target, pm2_list, now))
        problems += found
        results += seen
    owners = care2_roots(target, pm2_list)
    members = family(owners)
    for member in members:
        owner, fix = owners[member.root]
        if member.zombie:
            problems.append(Problem(
                f"{member.describe()}, part of {owner}: its parent has not reaped it",
                f"{fix}; a zombie goes away when its parent exits",
            ))
        elif member.without_memory:
            problems.append(Problem(f"{member.describe()}, part of {owner}: alive but not running anything",
                                    f"{fix}; if it stays, {kill(member.pid)}"))
    report(check, "Processes", problems)
    results.append(f"{len(members)} Care2 processes, none a zombie or without memory")
    check.passed("; ".join(results))


def care2_roots(target, pm2_list) -> dict[int, tuple[str, str]]:
    """PID -> (what it is, how to restart it) of the processes Care2 consists of: PM2's apps, the holders of
    the configured ports, cloudflared (unless it runs another named tunnel: not Care2's)."""
    roots: dict[int, tuple[str, str]] = {}
    roles = {name: role for role, name in target.pm2.apps.items()}
    for app in pm2_apps(pm2_list):
        if app.name in roles and app.pid > 0:
            roots.setdefault(app.pid, (f"PM2 app {app.name}", f"pm2 restart {app.name}"))
    for role in ("frontend", "backend", "proxy"):
        port = target.service_port(role)
        for listener in ports.listeners([port]) if port else []:
            if listener.pid:
                roots.setdefault(listener.pid, (f"the {role} on port {port}", restart(target, role)))
    for process in care2_tunnels(target):
        roots.setdefault(process.pid, (f"cloudflared PID {process.pid}", restart_tunnel(target, process)))
    return roots


def watched(target, listing: Jlist, now: float) -> Jlist | None:
    """PM2's list LOOP_WATCH seconds later, when an app restarted recently without PM2 calling it unstable:
    a restart count that rises in the meantime is a loop; one that does not, a restart by hand."""
    if not any(recently_restarted(target, app, now) and app.online and not app.unstable_restarts
               for app in listing.apps):
        return None
    time.sleep(LOOP_WATCH)
    try:
        return read_jlist(target.pm2.command, target.pm2.timeout)
    except PM2Error:
        return None


def recently_restarted(target, app: App, now: float) -> bool:
    """Restarted, and last (re)started less than pm2.min_uptime ago: online, or between two runs of a loop."""
    uptime = app.uptime(now)
    return (app.online or between_runs(app)) and app.restarts > 0 and uptime is not None \
        and uptime < target.pm2.min_uptime


def between_runs(app: App) -> bool:
    """PM2 is restarting it right now: it exited and PM2 keeps its old pid until the next run ("stopped" with
    a pid), or the next run is starting ("launching", "waiting restart"). A `pm2 stop` leaves pid 0."""
    return (app.status == "stopped" and app.pid > 0) or app.status in ("launching", "waiting restart")


def pm2_problems(target, check, listing: Jlist, now: float,
                 later: Jlist | None = None) -> tuple[list[Problem], list[str]]:
    problems, seen = [], []
    for role, name in target.pm2.apps.items():
        app = listing.app(name)
        outside = care2_tunnels(target) if app is None and role == "tunnel" else []
        if outside and role in target.required_apps:  # e.g. cloudflared installed as a Windows service
            check.warn(f"{name} (tunnel) is not in PM2's list, but cloudflared runs outside PM2: "
                       + "; ".join(f"PID {process.pid}" + (" as a Windows service" if process.windows_service else "")
                                   for process in outside)
                       + '; if that is how this host runs it, set pm2.optional = ["tunnel"]')
            continue
        if app is None:
            if role in target.required_apps:
                problems.append(Problem(
                    f"{name} ({role}) is not in PM2's list (PM2 has: {', '.join(listing.names) or 'no apps'})",
                    f"pm2 start {ecosystem_file(target)} --only {name}",
                ))
            continue
        found = app_problems(target, check, role, app, now, later.app(name) if later else None)
        problems += found
        if not found:
            seen.append(f"{name} online, pid {app.pid}, {memory(app.memory)}, up {duration(app.uptime(now) or 0)}")
    return problems, seen


def app_problems(target, check, role: str, app: App, now: float, later: App | None = None) -> list[Problem]:
    """What is wrong with one PM2 app: not online, looping, a zombie, or not serving. ``later``: the same
    app a few seconds on, when it had restarted recently."""
    settings = target.pm2
    redo = (f"pm2 delete {app.name} && pm2 start {ecosystem_file(target)} --only {app.name}; if it comes back the "
            "same, PM2's daemon itself is stale: pm2 update")
    loop_fix = f"it crashes soon after it starts: read {logs(target, role)}, fix the cause, then pm2 restart {app.name}"
    if app.shim_run_by_node:
        loop_fix = (f"PM2 runs the Windows shim {app.script} with Node, which cannot read it (a SyntaxError on its "
                    f"first line in {logs(target, role)}): in {ecosystem_file(target)} give {app.name} the JavaScript "
                    "file the shim starts as its script (Next: node_modules/next/dist/bin/next, args start), then "
                    f"pm2 delete {app.name} && pm2 start {ecosystem_file(target)} --only {app.name}")
    if app.status in ("stopped", "stopping") and not between_runs(app):
        return [Problem(f"{app.label} is {app.status} in PM2", f"pm2 restart {app.name}")]
    if app.status == "errored":
        return [Problem(f"{app.label} is errored: PM2 gave up restarting it after {app.restarts} restarts", loop_fix)]
    uptime = app.uptime(now)
    if recently_restarted(target, app, now):
        rose = later is not None and (later.restarts > app.restarts or later.pid != app.pid)
        if app.unstable_restarts or rose or not app.online:
            unstable = f", {app.unstable_restarts} of them unstable" if app.unstable_restarts else ""
            climbing = f", {app.restarts} -> {later.restarts} within {LOOP_WATCH:g} s" if rose else ""
            up = (f"up only {duration(uptime)}" if app.online
                  else f"{app.status!r} now, {duration(uptime)} after its last start")
            return [Problem(
                f"{app.label}: restart loop: {app.restarts} restarts{unstable}{climbing}, {up} (an app must stay up "
                f"{duration(settings.min_uptime)})",
                loop_fix,
            )]
        check.warn(f"{app.name} restarted {duration(uptime)} ago (restart {app.restarts}) and not again within "
                   f"{LOOP_WATCH:g} s; if nobody restarted it by hand, watch it: {logs(target, role)}")
    if not app.online:
        return [Problem(f"{app.label} is {app.status!r} after {app.restarts} restarts: a restart loop", loop_fix)]
    why = ""
    if app.process() is None:
        missing = f"no live process has pid {app.pid}" if app.pid > 0 else "it has no pid (0)"
        why = f"{missing} (PM2 shows {memory(app.memory)} of memory)"
    elif app.memory is None or app.memory < settings.memory_floor:
        why = (f"it shows {memory(app.memory)} of memory, under the {settings.memory_floor} b floor: PM2 cannot see "
               "the process")
    if why:
        return [Problem(
            f"{app.label}: PM2 says online, but {why}: a zombie entry, nothing is serving", redo,
        )]
    port = target.service_port(role)
    if port and not ports.listeners_of(app.pid):
        return [Problem(
            f"{app.label}: online and alive, but neither it nor a child listens on any port (expected {port}): "
            "it is not serving", redo,
        )]
    if not recently_restarted(target, app, now) and (app.restarts > settings.max_restarts or app.unstable_restarts):
        check.warn(f"{app.name} has restarted {app.restarts} times ({app.unstable_restarts} unstable) since PM2 "
                   f"first started it; stable for {duration(uptime or 0)} now ({logs(target, role)} tells why)")
    return []
