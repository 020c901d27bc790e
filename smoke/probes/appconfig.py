"""The app's own configuration, held against the environments file: the single source of truth made checkable.

Every place that names a port or the API's address must agree with ``[ports]`` and ``api_url``:
the backend's .env (PORT, FRONTEND_PORT), the PM2 ecosystem file and the environment PM2 actually
started each app with, the frontend's NEXT_PUBLIC_API_URL / NEXT_PUBLIC_BACKEND_URL, and the
cloudflared ingress. On Jan 11 the docs said 3003 while the backend ran on 3001.

>>> parse_dotenv('PORT=3003 # the docs said so\\nexport NEXT_PUBLIC_API_URL="http://localhost:3003"')
{'PORT': '3003', 'NEXT_PUBLIC_API_URL': 'http://localhost:3003'}
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from dotenv import dotenv_values

from ..target import Target
from .cloudflared import TunnelConfig, TunnelConfigError, parse_command
from .findings import Finding
from .fixes import ecosystem_file, recreate, restart
from .http import is_loopback
from .pm2 import App, Jlist, PM2Error, apps_of
from .processes import command_line

BACKEND_DEFAULT_PORT = 3001  # what the backend binds when its .env has no PORT
FRONTEND_API_KEYS = ("NEXT_PUBLIC_API_URL", "NEXT_PUBLIC_BACKEND_URL")
PORT_ARGUMENT = re.compile(r"(?:^|\s)(?:-p|--port)(?:=|\s+)(\d+)\b")
# node loads the ecosystem file exactly as PM2 does (it is JavaScript, and may compute its values)
NODE_DUMP = "process.stdout.write(JSON.stringify(require(require('path').resolve(process.argv[1]))))"


class AppConfigError(Exception):
    """A configured file cannot be read; the message names the file."""


@dataclass(frozen=True)
class Disagreement:
    """One place whose value differs from the environments file."""

    place: str  # "backend .env /srv/care2/backend/.env"
    seen: str  # "PORT=3003"
    expected: str  # "PORT=3001 (ports.backend)"
    fix: str

    def describe(self) -> str:
        return f"{self.place}: {self.seen}, expected {self.expected}"


def disagreements(target: Target, apps: Iterable[App] = ()) -> list[Disagreement]:
    """Every configured place (and every running PM2 app in ``apps``) that disagrees with ``target``."""
    found = _running(target, apps)
    files = target.app_config
    for path, compare in (
        (files.backend_env, _backend_env),
        (files.frontend_env, _frontend_env),
        (files.ecosystem, _ecosystem),
        (target.tunnel.config, _ingress),
    ):
        if path:
            try:
                found += compare(target, Path(path).expanduser())
            except AppConfigError as error:
                found.append(Disagreement(str(path), f"cannot read it: {error}", "a readable file",
                                          "fix the path in the environments file or the file itself"))
    return found


def judge(target: Target, listing: Jlist | PM2Error | None) -> list[Finding]:
    """Every place that names a port or the API (and every running app in PM2's ``listing``) agrees with the
    environments file; a note saying how many files were compared."""
    findings = [Finding("fail", found.describe(), found.fix) for found in disagreements(target, apps_of(listing))]
    files = [path for path in (*target.app_config.model_dump().values(), target.tunnel.config) if path]
    return [*findings, Finding("note", f"{len(files)} config file(s) agree with the environments file" if files
                               else "no app config file named in the environments file to compare")]


def parse_dotenv(text: str) -> dict[str, str]:
    """KEY=value lines as dotenv reads them (python-dotenv): ``export``, quotes, escapes, trailing comments.
    Values are taken as written: ${VAR} is not expanded from this machine's environment."""
    values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    return {key: value for key, value in values.items() if value is not None}


def read_ecosystem(path: Path, timeout: float) -> list[Mapping[str, Any]]:
    """The ``apps`` of a PM2 ecosystem file (.js/.cjs through node, .json, .yml/.yaml)."""
    if not path.is_file():
        raise AppConfigError(f"{path} does not exist")
    if path.suffix in (".json", ".yml", ".yaml"):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise AppConfigError(f"{path}: {error}") from None
    else:
        data = _node_load(path, timeout)
    apps = data.get("apps") if isinstance(data, dict) else data
    if not isinstance(apps, list):
        raise AppConfigError(f"{path} has no apps list")
    return [app for app in apps if isinstance(app, dict)]


def _node_load(path: Path, timeout: float) -> Any:
    node = shutil.which("node")
    if node is None:
        raise AppConfigError(f"{path} is JavaScript and node is not on PATH to read it")
    try:
        done = subprocess.run([node, "-e", NODE_DUMP, str(path.resolve())], cwd=path.parent, capture_output=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        raise AppConfigError(f"node did not finish loading {path} within {timeout:g} s") from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        errors = [line for line in lines if re.match(r"^\w*Error\b", line)]  # "ReferenceError: oops is not defined"
        said = (errors or lines or [f"exit code {done.returncode}"])[0]
        raise AppConfigError(f"node cannot load {path}: {said}")
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise AppConfigError(f"{path} does not export a JSON-like object") from None


def _read_env_file(path: Path) -> dict[str, str]:
    try:
        return parse_dotenv(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AppConfigError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise AppConfigError(f"{path}: {getattr(error, 'strerror', None) or error}") from None


def _backend_env(target: Target, path: Path) -> list[Disagreement]:
    values = _read_env_file(path)
    place = f"backend .env {path}"
    found = []
    backend = target.ports.backend
    port = values.get("PORT", "")
    if port != str(backend) and (port or backend != BACKEND_DEFAULT_PORT):
        seen = f"PORT={port}" if port else f"no PORT (the backend then binds {BACKEND_DEFAULT_PORT})"
        found.append(Disagreement(
            place, seen, f"PORT={backend} (ports.backend)",
            f"set PORT={backend} in {path} (or ports.backend, if {port or BACKEND_DEFAULT_PORT} is right), "
            f"then {restart(target, 'backend')}",
        ))
    frontend_port = values.get("FRONTEND_PORT", "")
    if frontend_port and frontend_port != str(target.ports.frontend):
        found.append(Disagreement(
            place, f"FRONTEND_PORT={frontend_port}", f"FRONTEND_PORT={target.ports.frontend} (ports.frontend)",
            f"set FRONTEND_PORT={target.ports.frontend} in {path}, then {restart(target, 'backend')}",
        ))
    return found


def _frontend_env(target: Target, path: Path) -> list[Disagreement]:
    values = _read_env_file(path)
    backend = target.ports.backend
    found = []
    for key in FRONTEND_API_KEYS:
        url = values.get(key, "")
        if url and not _reaches_api(target, url):
            found.append(Disagreement(
                f"frontend env {path}", f"{key}={url}", f"{target.api_url} or http://localhost:{backend} (the backend)",
                f"set {key}={target.api_url} in {path}, then rebuild the frontend (next build: NEXT_PUBLIC_ values "
                f"are fixed at build time) and {restart(target, 'frontend')}",
            ))
    return found


def _reaches_api(target: Target, url: str) -> bool:
    """A relative URL stays on the site; a loopback one must name the backend port; any other must be the API."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return False
    if not parts.scheme and not parts.netloc:
        return True
    if parts.hostname and is_loopback(parts.hostname):
        return port == target.ports.backend
    return f"{parts.scheme}://{parts.netloc}".lower() == target.api_origin.lower()


def _ecosystem(target: Target, path: Path) -> list[Disagreement]:
    apps = {str(app.get("name")): app for app in read_ecosystem(path, target.pm2.timeout)}
    place = f"ecosystem file {path}"
    found = []
    for role, name in target.required_apps.items():
        app = apps.get(name)
        if app is None:
            found.append(Disagreement(
                place, f"no app named {name!r} (it has: {', '.join(sorted(apps)) or 'none'})",
                f"an app {name!r} (pm2.apps.{role})", f"name the {role} app {name!r} in {path}, or fix pm2.apps",
            ))
            continue
        args = app.get("args") or ""
        args = [str(arg) for arg in args] if isinstance(args, list) else str(args).split()
        if role == "tunnel":
            found += _tunnel_args(target, place, name, [str(app.get("script") or "cloudflared"), *args])
            continue
        expected = target.service_port(role)
        if not expected:
            continue
        for where, port in _ports_named(app, args):
            if port != str(expected):
                found.append(Disagreement(
                    place, f"{name} {where} {port}", f"{expected} (ports.{role})",
                    f"set {where} to {expected} for {name} in {path}, then pm2 delete {name} && "
                    f"pm2 start {path} --only {name} (pm2 restart keeps the old environment)",
                ))
    return found


def _ports_named(app: Mapping[str, Any], args: list[str]) -> list[tuple[str, str]]:
    """(where, port) for each PORT in the app's env blocks and each -p/--port in its args."""
    named = [
        (f"{key}.PORT", str(block["PORT"]))
        for key, block in app.items()
        if str(key).startswith("env") and isinstance(block, dict) and "PORT" in block
    ]
    return named + [("args --port", port) for port in PORT_ARGUMENT.findall(" ".join(args))]


def _tunnel_args(target: Target, place: str, name: str, cmdline: list[str]) -> list[Disagreement]:
    command = parse_command(cmdline)
    expected = target.tunnel.name
    if command.kind == "named" and command.name in ("", expected):
        return []
    return [Disagreement(
        place, f"{name} runs `{command_line(cmdline)}`", f"cloudflared tunnel run {expected} (tunnel.name)",
        f"set {name}'s args to `tunnel run {expected}` in {place.removeprefix('ecosystem file ')}",
    )]


def _ingress(target: Target, path: Path) -> list[Disagreement]:
    try:
        config = TunnelConfig.read(path)
    except TunnelConfigError as error:
        raise AppConfigError(str(error)) from None
    place = f"cloudflared ingress {path}"
    ports = target.ports
    services = {ports.frontend: "frontend", ports.backend: "backend"} | ({ports.proxy: "proxy"} if ports.proxy else {})
    found = []
    for rule in config.ingress:
        origin = rule.origin
        if origin and is_loopback(origin[0]) and origin[1] not in services:
            found.append(Disagreement(
                place, f"{rule.hostname or 'catch-all'} -> {rule.service}",
                f"one of the configured ports {', '.join(f'{p} ({role})' for p, role in services.items())}",
                f"point it at the right port in {path}, then {restart(target, 'tunnel')}",
            ))
    # through the tunnel, the site's host must reach the frontend and the API's the backend (Dec 14: both went
    # to the backend); the proxy may stand in front of either
    for url, role in ((target.site_url, "frontend"), (target.api_url, "backend")):
        host = urlsplit(url).hostname or ""
        rule = None if is_loopback(host) else config.rule_for(host)
        origin = rule.origin if rule else None
        if origin and is_loopback(origin[0]) and origin[1] in services and services[origin[1]] not in (role, "proxy"):
            wanted = ports.proxy or target.service_port(role)
            found.append(Disagreement(
                place, f"{host} -> {rule.service} (the {services[origin[1]]})", f"the {role} (port {wanted})",
                f"route {host} to http://127.0.0.1:{wanted} in {path}, then {restart(target, 'tunnel')}",
            ))
    return found


def _running(target: Target, apps: Iterable[App]) -> list[Disagreement]:
    """The PORT each PM2 app was actually started with (it outlives edits to the files)."""
    found = []
    by_name = {app.name: app for app in apps}
    for role, name in target.pm2.apps.items():
        app, expected = by_name.get(name), target.service_port(role)
        if app and expected and app.port and app.port != str(expected):
            found.append(Disagreement(
                f"PM2's environment for {name}", f"PORT={app.port}", f"PORT={expected} (ports.{role})",
                f"fix PORT in {ecosystem_file(target)}, then {recreate(target, name)} (pm2 restart keeps the old "
                "environment)",
            ))
    return found
