"""The fixes the checks give, in one place: how to stop, start, restart a Care2 process and read its log.

A fix is its words (what the report and the terminal say) and, where a command can do it, the command's steps for
this OS (argv lists, never a shell string) and what to wait for afterwards: `care2-predemo fix` runs those.
``Fix`` is a ``str`` of its words, so that a judgement composes it into its sentences as before; a sentence
built around a command's fix keeps the command with ``fix.saying(words)``.

A role's fix names its PM2 app when the environment runs it under PM2 (``pm2.apps``), else the role itself. Its
steps are for this machine only where the checks read this machine (``host_checks``): elsewhere the app's PM2 is
another machine's, and the fix is words only.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from ..target import Target

WINDOWS_SERVICE = "Cloudflared"  # the service `cloudflared service install` creates
WINDOWS = os.name == "nt"  # the demo host's OS: the commands are PowerShell's and pm2.cmd there (tests set it)


@dataclass(frozen=True)
class Step:
    """One command of a fix: its argv, what it acts on in words, and the process it stops (checked before)."""

    argv: tuple[str, ...]
    touches: str  # "PM2 app careconnect-backend-prod", "process 4242 (python squatter.py rogue 3001)"
    pid: int = 0  # a process this step stops: run only while that PID is still the process that was shown
    created: float = 0.0  # that process's start time (psutil create_time) when it was shown

    def shown(self) -> str:
        """The command as this OS's shell would take it."""
        return subprocess.list2cmdline(self.argv) if WINDOWS else shlex.join(self.argv)


@dataclass(frozen=True)
class Wait:
    """What a fix waits for after its steps before the checks are asked again."""

    seconds: float = 0.0  # settle time (the tunnel's min_uptime)
    port: int = 0  # until something listens on this port

    def __bool__(self) -> bool:
        return bool(self.seconds or self.port)


class Fix(str):
    """A fix's words, with the steps that do it (none: no command can) and what to wait for afterwards; where the
    app's own code must change instead, ``sources``: what to look for in the app's checkout (a literal the suite
    saw: the API base in the page's code, a header's value, an API route that failed), or a place already
    (``path:line``, as a stack line in the backend's log gives it: `fix` shows that as it is)."""

    steps: tuple[Step, ...]
    wait: Wait
    sources: tuple[str, ...]

    def __new__(cls, words: str, steps=(), wait: Wait = Wait(), sources=()) -> Fix:
        fix = super().__new__(cls, words)
        fix.steps, fix.wait, fix.sources = tuple(steps), wait, tuple(sources)
        return fix

    def saying(self, words: str) -> Fix:
        """The same command in other words (a sentence built around it)."""
        return Fix(words, self.steps, self.wait, self.sources)

    def data(self) -> dict:
        """The fix as the verdict file keeps it."""
        return {"words": str(self), "steps": [asdict(step) for step in self.steps], "wait": asdict(self.wait),
                "sources": list(self.sources)}

    @classmethod
    def of(cls, data: dict) -> Fix:
        steps = [Step(**{**step, "argv": tuple(step["argv"])}) for step in data.get("steps", [])]
        return cls(data["words"], steps, Wait(**data.get("wait", {})), data.get("sources", ()))


def combined(words: str, *parts: Fix) -> Fix:
    """One fix made of others' steps, in order, waiting as the last of them that waits; words for them all."""
    waits = [part.wait for part in parts if part.wait]
    return Fix(words, [step for part in parts for step in part.steps], waits[-1] if waits else Wait())


def kept(fix) -> bool:
    """A fix the verdict file keeps for `care2-predemo fix`: a command or a wait can do it, or it knows what in the
    app's code to change."""
    return isinstance(fix, Fix) and bool(fix.steps or fix.wait or fix.sources)


def pm2(target: Target, *args: str) -> tuple[str, ...]:
    """The argv of `pm2 ARGS` for the PM2 the checks read (pm2.command without its `jlist`); pm2.cmd on Windows."""
    base = list(target.pm2.command)
    if base[-1:] == ["jlist"]:
        base = base[:-1]
    if WINDOWS and base[:1] == ["pm2"]:
        base[0] = "pm2.cmd"  # PM2 for Windows is a batch shim, which CreateProcess runs by its full name only
    return (*base, *args)


def ecosystem_file(target: Target) -> str:
    """The ecosystem file to name in a fix: the configured one, else the production file's usual name."""
    return target.app_config.ecosystem or "ecosystem.prod.config.js"


def here(target: Target, words: str, steps: list[Step], wait: Wait = Wait()) -> Fix:
    """A fix that runs ``steps`` on this machine: words only where the checks do not read it (host_checks false)."""
    return Fix(words, steps, wait) if target.host_checks else Fix(words)


def api_base(api_url: str, seen: str = "") -> Fix:
    """Make the page's code call the configured API: its base is baked in when the frontend is built; ``seen``:
    the base the page's code holds instead."""
    return Fix(f"make the page call {api_url}: fix its API base (NEXT_PUBLIC_API_URL, or the base hard-coded for "
               "this host name in the page's code), then rebuild (next build) and restart the frontend",
               sources=[seen] if seen else [])


def kill(pid: int | None, cmdline: str = "", created: float = 0.0) -> Fix:
    """Stop a process by its PID; ``cmdline`` names it on screen, ``created`` is its start time when seen."""
    if not pid:
        return Fix("stop it (its PID is not visible to this user)")
    argv = ("powershell", "-NoProfile", "-Command", f"Stop-Process -Id {pid} -Force") if WINDOWS else \
        ("kill", str(pid))
    return Fix(f"kill {pid} (Windows: taskkill /PID {pid} /F)",
               [Step(argv, f"process {pid}" + (f" ({cmdline})" if cmdline else ""), pid, created)])


def restart(target: Target, role: str) -> Fix:
    name = target.pm2.apps.get(role)
    port = target.service_port(role)
    if name:
        settle = target.tunnel.min_uptime if role == "tunnel" else 0.0
        return here(target, f"pm2 restart {name}", [Step(pm2(target, "restart", name), f"PM2 app {name}")],
                    Wait(settle, port or 0))
    if role == "tunnel":
        return Fix(f"restart cloudflared (cloudflared tunnel run {target.tunnel.name})")
    return Fix(f"restart the {role}")


def restart_tunnel(target: Target, windows_service: bool) -> Fix:
    """How to restart a cloudflared: as the Windows service it runs as, else as the environment runs it."""
    if windows_service:
        return here(target,
                    f"Restart-Service {WINDOWS_SERVICE} (PowerShell as administrator: it runs as a Windows service)",
                    [Step(("powershell", "-NoProfile", "-Command", f"Restart-Service {WINDOWS_SERVICE}"),
                          f"the Windows service {WINDOWS_SERVICE}")], Wait(target.tunnel.min_uptime))
    return restart(target, "tunnel")


def start(target: Target, name: str) -> Fix:
    """Start a PM2 app that is not in PM2's list: a command only with the configured ecosystem file found (by its
    absolute path, as PM2 may run from another folder), else a failed start could follow recreate's delete."""
    eco = ecosystem_file(target)
    words = f"pm2 start {eco} --only {name}"
    configured = target.app_config.ecosystem
    found = Path(configured).expanduser().resolve() if configured else None
    if found is not None and found.is_file():
        role = {app: role for role, app in target.pm2.apps.items()}.get(name, "")
        return here(target, words, [Step(pm2(target, "start", str(found), "--only", name), f"PM2 app {name}")],
                    Wait(target.tunnel.min_uptime if role == "tunnel" else 0.0, target.service_port(role) or 0))
    missing = configured and target.host_checks  # elsewhere the file is on the machine that runs the app
    return Fix(f"{words} (the ecosystem file {eco} is not found on this machine)" if missing else words)


def recreate(target: Target, name: str) -> Fix:
    """Start a PM2 app afresh, with the environment the ecosystem file gives it (pm2 restart keeps the old one)."""
    started = start(target, name)
    steps = [Step(pm2(target, "delete", name), f"PM2 app {name}"), *started.steps] if started.steps else []
    return Fix(f"pm2 delete {name} && {started}", steps, started.wait)


def logs(target: Target, role: str) -> str:
    name = target.pm2.apps.get(role)
    return f"pm2 logs {name} --lines 50" if name else f"the {role}'s log"
