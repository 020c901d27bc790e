"""(6) Tunnel: the named tunnel runs, has settled, runs its current config and is connected.

The facts (which cloudflared, what it runs, its config and metrics) come from cloudflared.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..target import Target
from ..text import clock, duration
from . import fixes
from .cloudflared import (
    START_TIME_SLACK,
    Cloudflared,
    TunnelConfig,
    TunnelConfigError,
)
from .cloudflared_metrics import find_metrics, metrics_urls
from .findings import Finding
from .http import Client


@dataclass(frozen=True)
class Running:
    """A cloudflared that runs a named tunnel, with the config it runs (read from its file)."""

    process: Cloudflared
    config: TunnelConfig | None
    config_error: str
    names: tuple[str, ...]  # the tunnel as the command line and the config name it


def running(process: Cloudflared, configured: str) -> Running:
    path = process.config_path or (Path(configured).expanduser() if configured else None)
    config, error = None, ""
    if path is not None:
        try:
            config = TunnelConfig.read(path)
        except TunnelConfigError as failure:
            error = str(failure)
    names = tuple(name for name in (process.command.name, config.tunnel if config else "") if name)
    return Running(process, config, error, names)


def same_file(first: Path, second: str) -> bool:
    try:
        return os.path.samefile(first, Path(second).expanduser())
    except OSError:
        return Path(first).resolve() == Path(second).expanduser().resolve()


def judge(target: Target, http: Client, processes: list[Cloudflared], now: float) -> list[Finding]:
    """The named tunnel runs, has settled, runs its current config and is connected; a note per tunnel that is."""
    settings = target.tunnel
    if not processes:
        return [Finding("fail", f"no cloudflared process runs on this host (expected the named tunnel "
                                f"{settings.name!r})",
                        fixes.restart(target, "tunnel").saying(
                            f"start it: {fixes.restart(target, 'tunnel')}, then wait {duration(settings.min_uptime)} "
                            "before the demo"))]
    runs = [running(process, settings.config) for process in processes if process.command.kind == "named"]
    ours = [run for run in runs if settings.name in run.names] or [
        run for run in runs if not run.names and run.process.command.token
    ]
    if not ours:
        return [wrong_tunnel(target, processes, runs)]
    findings = []
    for other in processes:
        if all(run.process.pid != other.pid for run in ours):
            what = {"quick": "a quick tunnel", "named": "another tunnel"}.get(other.command.kind, "another cloudflared")
            findings.append(Finding("warn", f"{what} runs beside the named tunnel: PID {other.pid} `{other.shown}`",
                                    f"stop it unless it is meant to run: {fixes.kill(other.pid)}"))
    for run in ours:
        findings += judge_run(target, http, run, now)
    return findings


def wrong_tunnel(target: Target, processes: list[Cloudflared], runs: list[Running]) -> Finding:
    """The failure when no cloudflared runs the named tunnel: a quick tunnel, another tunnel, or no tunnel at all."""
    expected = target.tunnel.name
    quick = [process for process in processes if process.command.kind == "quick"]
    app = target.pm2.apps.get("tunnel")
    eco = fixes.ecosystem_file(target)
    named = f"cloudflared tunnel run {expected}" + (
        f" (under PM2: give {app} the args `tunnel run {expected}` in {eco}, then {fixes.recreate(target, app)})"
        if app else ""
    )
    unreadable = [run.process for run in runs if not run.process.cmdline and not run.names]
    if unreadable:
        process = unreadable[0]
        service = " (it runs as a Windows service, as SYSTEM)" if process.windows_service else ""
        return Finding(
            "fail",
            f"cloudflared PID {process.pid} runs, but this user may not read its command line{service}, "
            f"so whether it runs the named tunnel {expected!r} cannot be seen",
            "run the checks as administrator, or set tunnel.config to the config file it runs with (its `tunnel:` "
            "names the tunnel)",
        )
    if quick:
        process = quick[0]
        return Finding(
            "fail",
            f"cloudflared PID {process.pid} runs a quick tunnel `{process.shown}`, not the named tunnel "
            f"{expected!r}: a quick tunnel serves a random trycloudflare.com address, not {target.site_url}",
            f"stop it: {fixes.kill(process.pid)}; then run the named tunnel: {named}",
        )
    if runs:
        seen = "; ".join(
            f"PID {run.process.pid} `{run.process.shown}` ({', '.join(run.names) or 'tunnel name not readable'})"
            for run in runs
        )
        return Finding(
            "fail", f"cloudflared runs another tunnel than {expected!r}: {seen}",
            f"run the named tunnel: {named}; if the tunnel seen is the right one, set tunnel.name to its name",
        )
    seen = "; ".join(f"PID {process.pid} `{process.shown}`" for process in processes)
    return Finding("fail", f"no cloudflared process runs a tunnel (seen: {seen})", f"start the named tunnel: {named}")


def judge_run(target: Target, http: Client, run: Running, now: float) -> list[Finding]:
    """One cloudflared that runs the named tunnel: its config, its age, its edge connections."""
    settings = target.tunnel
    process = run.process
    who = f"cloudflared PID {process.pid}"
    start = fixes.restart_tunnel(target, process.windows_service)
    settle = f"then wait {duration(settings.min_uptime)} before the demo"
    logs = fixes.logs(target, "tunnel")
    findings = []
    if run.config_error:
        findings.append(Finding("fail", f"{who}: {run.config_error}",
                                "fix the file, or tunnel.config in the environments file"))
    if settings.config and process.config_path and not same_file(process.config_path, settings.config):
        findings.append(Finding(
            "fail",
            f"{who} runs with --config {process.config_path}, while tunnel.config names {settings.config}: "
            "the config checked is not the one running",
            f'set tunnel.config = "{process.config_path}", or restart cloudflared with --config {settings.config}',
        ))
    uptime = process.uptime(now)
    if uptime < settings.min_uptime:
        findings.append(Finding(
            "fail",
            f"{who} has been up only {duration(uptime)} (started {clock(process.started)}); the pre-demo rule is "
            f"up for more than {duration(settings.min_uptime)}",
            fixes.Fix(f"wait {duration(settings.min_uptime - uptime)} and run the checks again; if it keeps "
                      f"restarting, read {logs}", wait=fixes.Wait(settings.min_uptime - uptime)),
        ))
    elif uptime > settings.max_uptime:
        findings.append(Finding(
            "fail",
            f"{who} has been running for {duration(uptime)}, since {clock(process.started)}: longer than the "
            f"{duration(settings.max_uptime)} limit, so it probably runs an old config",
            start.saying(f"{start}, {settle}"),
        ))
    if run.config and run.config.modified > process.started + START_TIME_SLACK:
        findings.append(Finding(
            "fail",
            f"{who} started at {clock(process.started)}, before its config {run.config.path} last changed at "
            f"{clock(run.config.modified)}: the running tunnel ignores that change",
            start.saying(f"{start} so it reads its config, {settle}"),
        ))
    urls, skipped = metrics_urls(process, run.config.metrics if run.config else "", settings.metrics)
    for address in skipped:
        findings.append(Finding("warn", f"{who}: metrics address {address} is not on this host's loopback; not asked"))
    metrics = find_metrics(http, urls)
    if metrics is None:
        return [*findings, Finding(
            "fail",
            f"{who}: no cloudflared metrics server answers /ready (tried {', '.join(urls)}), so whether the tunnel "
            "has edge connections cannot be seen",
            'run cloudflared with --metrics 127.0.0.1:20241 and set tunnel.metrics = "127.0.0.1:20241"',
        )]
    ready = metrics.readiness
    if not ready.ready:
        return [*findings, Finding(
            "fail",
            f"{who}: {metrics.base_url}/ready answered {ready.describe()}: the tunnel has no edge connection, "
            "so visitors get Cloudflare error 1033",
            start.saying(f"read {logs} (credentials, network, clock), then {start}, {settle}"),
        )]
    connections = min(count for count in (ready.ready_connections, metrics.ha_connections) if count is not None)
    if connections < settings.ha_connections:
        findings.append(Finding(
            "warn",
            f"{who}: {connections:g} of {settings.ha_connections} edge connections up "
            f"({metrics.base_url}/ready: {ready.describe()}; cloudflared_tunnel_ha_connections "
            f"{metrics.ha_connections if metrics.ha_connections is not None else 'not reported'}): "
            "the tunnel works but has less redundancy",
        ))
    version = f", cloudflared {metrics.version}" if metrics.version else ""
    config = f"; config {run.config.path} unchanged since it started" if run.config else "; config file not known"
    return [*findings, Finding(
        "note",
        f"{who} runs {settings.name!r}, up {duration(process.uptime(now))} (since {clock(process.started)})"
        f"{config}; {metrics.base_url}/ready: {ready.ready_connections} connections{version}",
    )]
