"""Who listens on a port, on which addresses, who runs it, and whether loopback v4 and v6 accept.

Read from the operating system through psutil (Linux, macOS, Windows alike), never from ss/netstat.

>>> [holder.describe() for holder in listening_on(3001)]   # doctest: +SKIP
['PID 48211 (node /home/care2/Care2system/backend/dist/server.js) on 127.0.0.1, ::1']
>>> dial("::1", 3000, timeout=3).accepted   # doctest: +SKIP
False
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from ..target import Target
from .http import Answer, Client, NoAnswer
from .pm2 import App
from .processes import ancestors, command_line, name_and_cmdline, start_time

ROLES = ("frontend", "backend", "proxy")
# a dialler that resolves "localhost" may take either: Windows and most Linux hosts map it to both
LOCALHOST_ADDRESSES = ("127.0.0.1", "::1")
WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
# PM2's daemon renames itself where the OS lets it (Linux, macOS); on Windows its command line stays
# `node.exe ...\pm2\lib\Daemon.js` (PM2's lib/Client.js starts it so).
PM2_DAEMON = re.compile(r"^PM2 v[\d.]+: God Daemon|[\\/]pm2[\\/]lib[\\/]Daemon\.js\b", re.IGNORECASE)


@dataclass(frozen=True)
class Listener:
    """One process listening on one TCP port, with every local address it listens on."""

    port: int
    pid: int | None  # None: the OS did not say (another user's socket without the right to see it)
    addresses: tuple[str, ...]
    name: str = ""
    cmdline: tuple[str, ...] = ()
    created: float = 0.0  # the process's start time (psutil), to know it again before stopping it; 0: unknown

    @property
    def command(self) -> str:
        return command_line(self.cmdline) or self.name or "command line not readable"

    @property
    def process(self) -> str:
        who = f"PID {self.pid}" if self.pid else "a process this user may not see"
        return f"{who} ({self.command})"

    def describe(self) -> str:
        return f"{self.process} on {', '.join(self.addresses)}"

    @property
    def loopback_address(self) -> str:
        """The loopback address to reach it at (127.0.0.1 when it listens on IPv4 at all)."""
        reachable = [WILDCARDS.get(address, address) for address in self.addresses]
        return next((a for a in reachable if a == "127.0.0.1"), next((a for a in reachable if a == "::1"), "127.0.0.1"))

    @property
    def url(self) -> str:
        host = self.loopback_address
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"


def listeners(ports: Iterable[int] | None = None) -> list[Listener]:
    """Every TCP listener on this host (or those on ``ports``): one per process and port, by port."""
    wanted = set(ports) if ports is not None else None
    addresses: dict[tuple[int, int | None], list[str]] = {}
    for pid, ip, port in _listening_sockets():
        if wanted is None or port in wanted:
            found = addresses.setdefault((port, pid), [])
            if ip not in found:
                found.append(ip)
    return [
        Listener(port, pid, tuple(sorted(ips, key=_v4_first)), *name_and_cmdline(pid), start_time(pid))
        for (port, pid), ips in sorted(addresses.items(), key=lambda item: (item[0][0], item[0][1] or 0))
    ]


def listening_on(port: int) -> list[Listener]:
    return listeners([port])


def failover(port: int, span: int) -> list[Listener]:
    """Listeners on port+1 .. port+span: where a backend whose port was taken quietly goes."""
    return listeners(range(port + 1, port + span + 1))


def held_by(listener: Listener, pid: int) -> bool:
    """``pid`` or one of its children (at any depth) holds the listener."""
    return bool(pid) and listener.pid is not None and (listener.pid == pid or pid in ancestors(listener.pid))


def listeners_of(pid: int) -> list[Listener]:
    """What ``pid`` and its children listen on."""
    return [listener for listener in listeners() if held_by(listener, pid)]


@dataclass(frozen=True)
class Dial:
    """One TCP connect to a loopback address."""

    host: str
    port: int
    accepted: bool
    reason: str  # "accepted", "connection refused", "timed out after 3 s", ...

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def dial(host: str, port: int, timeout: float) -> Dial:
    """Connect to ``host`` (an IP address) on ``port`` and hang up; never sends a byte."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect((host, port))
    except ConnectionRefusedError:
        return Dial(host, port, False, "connection refused")
    except TimeoutError:
        return Dial(host, port, False, f"no answer to connect within {timeout:g} s")
    except OSError as error:
        return Dial(host, port, False, f"cannot connect: {error.strerror or error}")
    return Dial(host, port, True, "accepted")


@dataclass(frozen=True)
class Identity:
    """What a listener says it is (X-Care2-Origin) and who runs it (PM2 app, command line)."""

    listener: Listener
    origin: str | None  # the X-Care2-Origin it answered with
    said: str  # how it answered, for a message
    pm2_app: str | None  # the PM2 app whose process (or a child of it) holds the port
    under_pm2: bool  # run by a PM2 daemon, whether or not this PM2 list knows the app
    invalid_hostname: bool  # answered 404 "Invalid hostname": the reverse proxy's answer to a Host it does not route

    def describe(self) -> str:
        runs = f"PM2 app {self.pm2_app}" if self.pm2_app else ("run by a PM2 daemon" if self.under_pm2 else "")
        return f"{self.listener.process}" + (f", {runs}" if runs else "") + f", {self.said}"

    @property
    def evidence(self) -> str:
        """Who it is, in short: the PM2 app and the X-Care2-Origin it answers with."""
        parts = [f"PM2 app {self.pm2_app}"] if self.pm2_app else []
        parts += [f'X-Care2-Origin "{self.origin}"'] if self.origin else []
        parts += ['answers "Invalid hostname" like the proxy'] if self.invalid_hostname else []
        return ", ".join(parts)


def identify(listener: Listener, http: Client, path: str = "/", apps: Iterable[App] = ()) -> Identity:
    """Ask the listener who it is and find which PM2 app, if any, runs it."""
    url = listener.url + path
    origin, invalid_hostname = None, False
    try:
        answer = http.get(url)
    except NoAnswer as failure:
        said = f"accepted but gave no HTTP answer ({failure.reason})"
    else:
        origin = answer.header("x-care2-origin")
        invalid_hostname = answer.status == 404 and answer.text.lstrip().lower().startswith("invalid hostname")
        said = _how_it_answered(answer, origin)
    app = next((app.name for app in apps if held_by(listener, app.pid)), None)
    return Identity(listener, origin, said, app, app is not None or _under_pm2(listener.pid), invalid_hostname)


def _how_it_answered(answer: Answer, origin: str | None) -> str:
    what = f"GET {answer.url} -> {answer.status} {answer.content_type or 'no content type'}"
    return f'answers X-Care2-Origin: "{origin}" ({what})' if origin else f"answers without X-Care2-Origin ({what})"


def _under_pm2(pid: int | None) -> bool:
    """PM2's fork-mode wrapper, or a PM2 daemon among the process's parents."""
    if not pid:
        return False
    for ancestor in (pid, *ancestors(pid)):
        cmdline = " ".join(name_and_cmdline(ancestor)[1])
        if "ProcessContainerFork" in cmdline or "ProcessContainer.js" in cmdline or PM2_DAEMON.search(cmdline):
            return True
    return False


def _listening_sockets() -> list[tuple[int | None, str, int]]:
    """(pid, ip, port) of every listening TCP socket this user may see."""
    try:
        connections = [(c.pid, c) for c in psutil.net_connections(kind="tcp")]
    except psutil.AccessDenied:  # macOS without root: only this user's processes can be asked, one by one
        connections = []
        for process in psutil.process_iter():
            try:
                connections += [(process.pid, c) for c in process.net_connections(kind="tcp")]
            except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
    return [
        (pid, _plain_ip(c.laddr.ip), c.laddr.port)
        for pid, c in connections
        if c.status == psutil.CONN_LISTEN and c.laddr
    ]


def _plain_ip(ip: str) -> str:
    return ip.removeprefix("::ffff:") if ip.startswith("::ffff:") and "." in ip else ip.split("%")[0]


def _v4_first(ip: str) -> tuple[bool, str]:
    return (":" in ip, ip)



def health_path(target: Target, role: str) -> str:
    """The path that asks the role's program whether it is alive (the proxy: any answer will do)."""
    return {"frontend": target.paths.site_health, "backend": target.paths.api_live}.get(role, "/")
