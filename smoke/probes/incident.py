"""What an engineer asks for after a NO-GO on the demo host, as files for the incident bundle: PM2's list, the
listeners on Care2's ports, each app's last log lines, the tunnel's and the proxy's configs.

Plain text, not yet scrubbed (the report's writer scrubs every file and bounds its size). A file that cannot be
read is named in notes.txt. Another kind of fact (the frontend's build, say) is one more entry of ``gather``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from ..target import Target
from . import cloudflared, pm2, ports
from .log_signs import HostLogs
from .logs import config_argument, tail

LOG_LINES = 200  # per log file: the last ones


def gather(target: Target, listing, logs: HostLogs) -> dict[str, str]:
    """File name in the bundle -> its text."""
    notes: list[str] = []
    files = {"pm2-list.json": _pm2_list(listing), "listeners.txt": _listeners(target)}
    for source in logs.sources:
        lines, note, _ = tail(source.path)
        if note:
            notes.append(note)
            continue
        name = source.path.name if source.owner in source.path.name else f"{source.owner}-{source.path.name}"
        files[f"logs/{_safe(name)}"] = "\n".join(lines[-LOG_LINES:]) + "\n"
    configs = {Path(target.tunnel.config)} if target.tunnel.config else set()
    processes = cloudflared.care2_tunnels(target.tunnel.name)
    configs |= {process.config_path for process in processes if process.config_path}
    files["cloudflared.txt"] = "".join(f"PID {process.pid}: {process.shown}\n" for process in processes) \
        or "no cloudflared runs the named tunnel\n"
    for path in sorted(configs):
        files[f"configs/{_safe(path.name)}"] = _read(path, notes)
    for path in _proxy_configs(target, listing):
        files[f"configs/{_safe(path.name)}"] = _read(path, notes)
    files["notes.txt"] = "".join(f"{note}\n" for note in notes) or "every file could be read\n"
    return files


def _pm2_list(listing) -> str:
    if listing is None:
        return "PM2 not used here (pm2.apps is empty)\n"
    if isinstance(listing, pm2.PM2Error):
        return f"PM2 could not be read: {listing}\n"
    # the fields the suite reads, not pm2_env: that holds each app's whole environment (secrets and all)
    return json.dumps([dataclasses.asdict(app) for app in listing.apps], indent=1) + "\n"


def _listeners(target: Target) -> str:
    wanted = {port for role in ports.ROLES if (port := target.service_port(role))}
    wanted |= {target.ports.backend + offset for offset in range(1, target.ports.failover_span + 1)}
    found = ports.listeners(wanted)
    return "".join(f"port {each.port}: PID {each.pid} on {', '.join(each.addresses)}: {each.command}\n"
                   for each in found) or f"nothing listens on ports {', '.join(map(str, sorted(wanted)))}\n"


def _proxy_configs(target: Target, listing) -> list[Path]:
    """The --config of the proxy's process (Caddy's Caddyfile), by PM2's pid."""
    name = target.pm2.apps.get("proxy")
    app = listing.app(name) if isinstance(listing, pm2.Jlist) and name else None
    config = config_argument(app) if app is not None else None
    return [config] if config else []


def _read(path: Path, notes: list[str]) -> str:
    lines, note, _ = tail(path)
    if note:
        notes.append(note)
    return "\n".join(lines) + "\n"


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-") or "file"
