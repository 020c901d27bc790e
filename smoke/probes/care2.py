"""Whose each Care2 process is: PM2's apps, the holders of the configured ports, and cloudflared, joined; and
which of PM2's apps are Care2's.

The checks feed it PM2's list; standstill.py and build.py read what it returns.
"""

from __future__ import annotations

from ..target import Target
from . import cloudflared, fixes, ports
from .pm2 import App, Jlist, PM2Error, apps_of
from .processes import Owner


def apps(target: Target, listing: Jlist | PM2Error | None) -> list[App]:
    """Care2's apps in PM2's list (its daemon may run others, dev apps say, that are not the demo's)."""
    return [app for app in apps_of(listing) if app.name in target.pm2.apps.values()]


def roots(target: Target, listing: Jlist | PM2Error | None) -> dict[int, Owner]:
    """PID -> whose it is, of the processes Care2 consists of: PM2's apps, the holders of the configured ports,
    cloudflared (unless it runs another named tunnel: not Care2's)."""
    found: dict[int, Owner] = {}
    roles = {name: role for role, name in target.pm2.apps.items()}
    for app in apps(target, listing):
        if app.pid > 0:
            found.setdefault(app.pid, Owner(f"PM2 app {app.name}", fixes.restart(target, roles[app.name]),
                                                      roles[app.name], app.status))
    for role in ports.ROLES:
        port = target.service_port(role)
        for listener in ports.listeners([port]) if port else []:
            if listener.pid:
                found.setdefault(listener.pid, Owner(f"the {role} on port {port}",
                                                               fixes.restart(target, role), role))
    for process in cloudflared.care2_tunnels(target.tunnel.name):
        found.setdefault(process.pid, Owner(f"cloudflared PID {process.pid}",
                                                      fixes.restart_tunnel(target, process.windows_service), "tunnel"))
    return found
