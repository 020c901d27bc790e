"""Caddy, the proxy on this host: which upstream serves a Host, read from the running Caddy's own config.

The config is the one the running process was started with, adapted by its own binary (`caddy adapt`), so a
Caddyfile is read as that Caddy reads it.

>>> site = {"match": [{"host": ["care2connects.org"]}],
...         "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "127.0.0.1:3000"}]}]}
>>> upstream_for({"apps": {"http": {"servers": {"srv0": {"listen": [":8080"], "routes": [site]}}}}}, 8080,
...              "care2connects.org")
'127.0.0.1:3000'
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from fnmatch import fnmatch
from pathlib import Path

import psutil

from .ports import listening_on

ADAPT_TIMEOUT = 10.0


def proxy_upstream(port: int, host: str) -> tuple[str | None, str]:
    """The upstream (``host:port``) the Caddy listening on ``port`` sends ``host`` to, read from its own config by
    its own binary (`caddy adapt`); else None and why not."""
    holders = [listener for listener in listening_on(port) if listener.pid]
    if not holders:
        return None, f"nothing this user may see listens on port {port}"
    try:
        process = psutil.Process(holders[0].pid)
        exe, cmdline, cwd = process.exe(), process.cmdline(), process.cwd()
    except psutil.Error as error:
        return None, f"PID {holders[0].pid} cannot be read ({type(error).__name__})"
    if "caddy" not in Path(exe).name.lower():
        return None, f"PID {holders[0].pid} is not Caddy ({exe})"
    config = read_caddy_config(exe, cmdline, cwd)
    if isinstance(config, str):
        return None, config
    upstream = upstream_for(config, port, host)
    return (upstream, "") if upstream else (None, f"Caddy's config routes no upstream for Host {host}")


def caddy_flag(cmdline: Sequence[str], name: str) -> str:
    """The value of ``--name`` in a Caddy command line ("" when absent)."""
    for index, arg in enumerate(cmdline):
        if arg == f"--{name}" and index + 1 < len(cmdline):
            return cmdline[index + 1]
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return ""


def read_caddy_config(exe: str, cmdline: Sequence[str], cwd: str) -> dict | str:
    """The JSON config a running Caddy was started with (its Caddyfile adapted by its own binary), or why not."""
    config = caddy_flag(cmdline, "config") or "Caddyfile"  # `caddy run` without --config reads ./Caddyfile
    adapter = caddy_flag(cmdline, "adapter")
    path = Path(cwd) / config
    if path.suffix == ".json" and not adapter:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            return f"its config {path} cannot be read ({error})"
    try:
        done = subprocess.run([exe, "adapt", "--config", str(path), *(["--adapter", adapter] if adapter else [])],
                              capture_output=True, text=True, timeout=ADAPT_TIMEOUT, cwd=cwd or None)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"`caddy adapt` could not run ({error})"
    if done.returncode != 0:
        return f"`caddy adapt --config {path}` failed: {(done.stderr.strip().splitlines() or ['no output'])[-1]}"
    try:
        return json.loads(done.stdout)
    except ValueError:
        return f"`caddy adapt --config {path}` printed no JSON"


def upstream_for(config: dict, port: int, host: str) -> str | None:
    """The first upstream of the reverse_proxy that the server on ``port`` runs for ``host``."""
    servers = ((config.get("apps") or {}).get("http") or {}).get("servers") or {}
    for server in servers.values():
        if any(str(listen).rpartition(":")[2] == str(port) for listen in server.get("listen", [])):
            handler = _handler_for(server.get("routes") or [], host)
            upstreams = (handler or {}).get("upstreams") or []
            return str(upstreams[0].get("dial")) if upstreams else None
    return None


def _handler_for(routes: list, host: str) -> dict | None:
    """The reverse_proxy handler that ``routes`` reach for ``host`` first (subroutes followed), if any."""
    for route in routes:
        if not _matches(route.get("match"), host):
            continue
        for handler in route.get("handle") or []:
            kind = handler.get("handler")
            if kind == "subroute":
                found = _handler_for(handler.get("routes") or [], host)
                if found is not None:
                    return found
            elif kind == "reverse_proxy":
                return handler
            elif kind == "static_response":
                return None
    return None


def _matches(match_sets, host: str) -> bool:
    """Caddy's route matching by host (other matchers are taken to match: the path check asks plain paths)."""
    if not match_sets:
        return True
    return any(not matchers.get("host") or any(fnmatch(host.lower(), pattern.lower()) for pattern in matchers["host"])
               for matchers in match_sets)
