"""(8) Ports: each service listens on its configured port and is the program expected there, with no second
instance in its failover span. The facts (listeners, who answers) come from ports.py; PM2's apps from pm2.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from ..target import Target
from . import fixes
from .findings import Finding
from .http import Client, is_loopback
from .pm2 import Jlist, PM2Error, apps_of
from .ports import ROLES, Identity, failover, health_path, identify, listening_on

HTTP_ROLES = ("frontend", "backend")


def own_ports(target: Target) -> set[int]:
    """The ports the environments file gives a service: no stray second instance can be found on them."""
    configured = {port for role in ROLES if (port := target.service_port(role))}
    # the site's and API's own URLs, where they are on this host, are doors we were told to use (a local
    # proxy in front of the frontend answers as the frontend), never a stray second instance
    return configured | {parts.port for url in (target.site_url, target.api_url)
                         if (parts := urlsplit(url)).port and is_loopback(parts.hostname or "")}


def second_instances(role: str, app_name: str | None, own: set[int], found: Iterable[Identity]) -> list[Identity]:
    """The listeners of the role's failover span that are the role's program, off the ports the environment gives
    (another service's own port is that service's business)."""
    return [
        identity for identity in found
        if identity.listener.port not in own
        and (identity.origin == role or (app_name is not None and identity.pm2_app == app_name))
    ]


def confirmed(identity: Identity, role: str, app_name: str | None) -> bool:
    """The holder is the role's program: by the X-Care2-Origin it answers with, else by PM2's record of it."""
    if role == "proxy":  # the proxy has no identity of its own: it is PM2's, or answers like our Caddy does
        by_pm2 = app_name is not None and identity.pm2_app == app_name
        return by_pm2 or identity.invalid_hostname or identity.origin in HTTP_ROLES
    if identity.origin is not None:
        return identity.origin == role
    return app_name is not None and identity.pm2_app == app_name


def judge(target: Target, http: Client, listing: Jlist | PM2Error | None) -> list[Finding]:
    """Each service listens on its configured port and is the program expected there, with no second instance
    in its failover span; a note for each that is."""
    apps = apps_of(listing)
    own = own_ports(target)
    findings = []
    for role in ROLES:
        port = target.service_port(role)
        if not port:
            continue
        app_name = target.pm2.apps.get(role)
        path = health_path(target, role)
        holders = [identify(listener, http, path, apps) for listener in listening_on(port)]
        drifted = [] if role == "proxy" else second_instances(role, app_name, own, (
            identify(listener, http, path, apps)
            for listener in failover(port, target.ports.failover_span) if listener.port not in own
        ))
        found = port_problems(target, role, port, holders, drifted, listing)
        findings += found or [
            Finding("note", f"{role} on {port}: PID {holder.listener.pid}"
                            + (f" {holder.listener.name}" if holder.listener.name else "") + f" ({holder.evidence})")
            for holder in holders
        ]
    return findings


def port_problems(target: Target, role: str, port: int, holders: list[Identity], drifted: list[Identity],
                  listing: Jlist | PM2Error | None = None) -> list[Finding]:
    app_name = target.pm2.apps.get(role)
    start = fixes.restart(target, role)
    if app_name and isinstance(listing, Jlist) and listing.app(app_name) is None:
        start = fixes.start(target, app_name)  # not in PM2's list: nothing to restart
    elsewhere = "; ".join(f"port {d.listener.port}: {d.describe()}" for d in drifted)
    if not holders:
        if drifted:
            moved = drifted[0].listener.port
            return [Finding(
                "fail",
                f"{role}: configured port {port}, but nothing listens there; the {role} listens on port {moved} "
                f"instead: {elsewhere}",
                start.saying(
                    f"make the {role} bind {port}: free port {port} if something held it when the {role} started (it "
                    f"then moves up to +{target.ports.failover_span}), make every place that sets its port say "
                    f"{port}, then {start}; if {moved} is meant, change ports.{role} and every place that says {port}"),
            )]
        return [Finding("fail", f"{role}: nothing listens on port {port} (ports.{role})",
                        start.saying(f"start it: {start}; see {fixes.logs(target, role)}"))]
    problems = [
        Finding(
            "fail",
            f"{role}: port {port} is held by {holder.describe()}, which is not the {role}"
            + (f"; the {role} listens on {elsewhere}" if drifted else ""),
            fixes.combined(f"stop the foreign process: {stop_holder(holder)}, then {start} so the {role} binds port "
                           f"{port}", stop_holder(holder), start),
        )
        for holder in holders
        if not confirmed(holder, role, app_name)
    ]
    if not problems and drifted:
        problems.append(Finding(
            "fail",
            f"{role}: a second {role} listens beside port {port}: {elsewhere}",
            fixes.combined(f"an old instance: stop it: {'; '.join(stop_holder(d) for d in drifted)}",
                           *(stop_holder(d) for d in drifted)),
        ))
    return problems


def stop_holder(holder: Identity) -> fixes.Fix:
    """Stop the process behind a listener, named on screen by its PID and command line."""
    listener = holder.listener
    return fixes.kill(listener.pid, listener.command, listener.created)
