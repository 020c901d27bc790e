"""The fixes the host checks give, in one place: how to stop, start, restart a Care2 process and read its log.

A role's fix names its PM2 app when the environment runs it under PM2 (``pm2.apps``), else the role itself.
"""

from __future__ import annotations

WINDOWS_SERVICE = "Cloudflared"  # the service `cloudflared service install` creates


def ecosystem_file(target) -> str:
    """The ecosystem file to name in a fix: the configured one, else the production file's usual name."""
    return target.app_config.ecosystem or "ecosystem.prod.config.js"


def api_base(api_url: str) -> str:
    """Make the page's code call the configured API: its base is baked in when the frontend is built."""
    return (f"make the page call {api_url}: fix its API base (NEXT_PUBLIC_API_URL, or the base hard-coded for this "
            "host name in the page's code), then rebuild (next build) and restart the frontend")


def kill(pid: int | None) -> str:
    return f"kill {pid} (Windows: taskkill /PID {pid} /F)" if pid else "stop it (its PID is not visible to this user)"


def restart(target, role: str) -> str:
    name = target.pm2.apps.get(role)
    if name:
        return f"pm2 restart {name}"
    if role == "tunnel":
        return f"restart cloudflared (cloudflared tunnel run {target.tunnel.name})"
    return f"restart the {role}"


def restart_tunnel(target, windows_service: bool) -> str:
    """How to restart a cloudflared: as the Windows service it runs as, else as the environment runs it."""
    if windows_service:
        return f"Restart-Service {WINDOWS_SERVICE} (PowerShell as administrator: it runs as a Windows service)"
    return restart(target, "tunnel")


def start(target, name: str) -> str:
    """Start a PM2 app that is not in PM2's list."""
    return f"pm2 start {ecosystem_file(target)} --only {name}"


def recreate(target, name: str) -> str:
    """Start a PM2 app afresh, with the environment the ecosystem file gives it (pm2 restart keeps the old one)."""
    return f"pm2 delete {name} && {start(target, name)}"


def logs(target, role: str) -> str:
    name = target.pm2.apps.get(role)
    return f"pm2 logs {name} --lines 50" if name else f"the {role}'s log"
