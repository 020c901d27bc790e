"""The cloudflared processes on this host: which they are, what their command lines say, and their config.

Facts only; tunnel.py judges them. Its metrics server (/ready, /metrics): cloudflared_metrics.py.

>>> parse_command(["cloudflared", "tunnel", "--edge-ip-version", "4", "run", "care2connects-tunnel"]).name
'care2connects-tunnel'
>>> parse_command([r"C:\\Program Files\\cloudflared\\cloudflared.exe", "tunnel", "--url", "http://localhost:3000"]).kind
'quick'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from urllib.parse import urlsplit

import psutil

from ..target import Target
from .processes import command_line, name_and_cmdline

PROCESS_NAMES = {"cloudflared", "cloudflared.exe"}
INTERPRETER = re.compile(r"^(python[\d.]*w?|py|node|bash|sh|env)(\.exe)?$", re.IGNORECASE)
# psutil's start time rests on a boot time in whole seconds: allow that much before calling a config newer
START_TIME_SLACK = 2.0
# flags of cloudflared (and its `tunnel` and `run` commands) that take a value; the others are switches
VALUE_FLAGS = frozenset(
    "config metrics url token token-file cred-file credentials-file origincert loglevel transport-loglevel logfile "
    "log-directory log-format output pidfile edge-ip-version protocol region tag grace-period retries ha-connections "
    "edge-bind-address hostname lb-pool autoupdate-freq metrics-update-freq proxy-address proxy-port "
    "http-host-header origin-server-name origin-ca-pool service-op-ip icmpv4-src icmpv6-src max-active-flows "
    "compression-quality unix-socket label name connect-timeout tls-timeout tcp-keepalive keepalive-timeout "
    "keepalive-connections proxy-connect-timeout proxy-tls-timeout proxy-tcp-keepalive proxy-keepalive-timeout "
    "proxy-keepalive-connections bastion dns-resolver-addrs upstream max-upstream-conns".split()
)
# `cloudflared service install` on Windows registers a service (fixes.WINDOWS_SERVICE); the Service Control
# Manager (services.exe) starts it, so it is cloudflared's parent (cloudflared's cmd/cloudflared/windows_service.go).
SERVICE_MANAGER = "services.exe"
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "tcp": None, "ssh": 22, "rdp": 3389}


@dataclass(frozen=True)
class TunnelCommand:
    """What a cloudflared command line runs."""

    kind: str  # "named": `tunnel run [NAME]`; "quick": `tunnel --url ...` (a throwaway trycloudflare.com URL); "other"
    name: str = ""  # the tunnel after `run`; "" when it comes from --token or the config's `tunnel:`
    config: str = ""
    metrics: str = ""
    url: str = ""
    token: bool = False
    logfile: str = ""  # --logfile: where it logs
    log_directory: str = ""  # --log-directory: it logs to cloudflared.log there


def parse_command(cmdline: Sequence[str]) -> TunnelCommand:
    """Read a cloudflared command line, the program possibly run by an interpreter (``python3 /x/cloudflared``)."""
    args = list(cmdline[_program_index(cmdline) + 1 :])
    flags: dict[str, str] = {}
    words: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            words += args[index + 1 :]
            break
        if arg.startswith("-") and len(arg) > 1:
            key, has_value, value = arg.lstrip("-").partition("=")
            if not has_value and key in VALUE_FLAGS and index + 1 < len(args):
                index += 1
                value = args[index]
            flags[key] = value
        else:
            words.append(arg)
        index += 1
    found = dict(
        config=flags.get("config", ""), metrics=flags.get("metrics", ""), url=flags.get("url", ""),
        token="token" in flags or "token-file" in flags, logfile=flags.get("logfile", ""),
        log_directory=flags.get("log-directory", ""),
    )
    subcommand = words[1] if words[:1] == ["tunnel"] and len(words) > 1 else ""
    if words[:1] not in ([], ["tunnel"]) or subcommand not in ("", "run"):
        return TunnelCommand("other", **found)
    if subcommand == "run":
        return TunnelCommand("named", words[2] if len(words) > 2 else "", **found)
    if "url" in flags or "hello-world" in flags:
        return TunnelCommand("quick", **found)
    return TunnelCommand("named", **found)  # bare `cloudflared tunnel`: runs the tunnel its config names


def is_cloudflared(name: str, cmdline: Sequence[str]) -> bool:
    """The process is cloudflared, by its name or as the script an interpreter runs."""
    if name.lower() in PROCESS_NAMES:
        return True
    index = _program_index(cmdline)
    return index > 0 and bool(INTERPRETER.match(_basename(cmdline[0]))) and _basename(cmdline[index]) in PROCESS_NAMES


def _program_index(cmdline: Sequence[str]) -> int:
    """Where cloudflared itself stands in the command line: 0, or after an interpreter and its options."""
    for index, arg in enumerate(cmdline):
        if _basename(arg) in PROCESS_NAMES:
            return index
        if index > 0 and not arg.startswith("-"):
            break
    return 0


def _basename(path: str) -> str:
    return re.split(r"[\\/]", path)[-1].lower()


@dataclass(frozen=True)
class Cloudflared:
    """A running cloudflared process."""

    pid: int
    cmdline: tuple[str, ...]
    started: float  # seconds since the epoch
    cwd: str
    command: TunnelCommand
    parent: str = ""  # the parent process's name: services.exe for a Windows service

    @property
    def windows_service(self) -> bool:
        return self.parent.lower() == SERVICE_MANAGER

    @property
    def shown(self) -> str:
        """The command line for a message (a --token value hidden)."""
        return command_line(self.cmdline) or "command line not readable"

    def uptime(self, now: float) -> float:
        return max(0.0, now - self.started)

    @property
    def config_path(self) -> Path | None:
        """The --config it was started with, relative to its working directory."""
        if not self.command.config:
            return None
        path = Path(self.command.config).expanduser()
        # C:\...\config.yml is absolute whichever OS reads the command line (a Windows host's, in tests)
        absolute = path.is_absolute() or PureWindowsPath(self.command.config).is_absolute()
        return path if absolute or not self.cwd else Path(self.cwd) / path


def find_cloudflared() -> list[Cloudflared]:
    """Every live cloudflared process, oldest first."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        info = process.info
        cmdline = tuple(info["cmdline"] or ())
        if not is_cloudflared(info["name"] or "", cmdline):
            continue
        try:  # the rest of a cloudflared only: a walk over every process is most of the time this takes
            info |= process.as_dict(["create_time", "status", "ppid"])
        except psutil.NoSuchProcess:
            continue
        if info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            cwd = process.cwd()
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            cwd = ""
        command = parse_command(cmdline or (info["name"],))
        parent = name_and_cmdline(info["ppid"])[0]
        found.append(Cloudflared(process.pid, cmdline, info["create_time"] or 0.0, cwd, command, parent))
    return sorted(found, key=lambda process: process.started)


class TunnelConfigError(Exception):
    """The config file cannot be read; the message names the file and the problem."""


@dataclass(frozen=True)
class Ingress:
    """One ingress rule: requests for ``hostname`` (all when empty) go to ``service``."""

    hostname: str
    service: str
    path: str = ""
    http_host_header: str = ""  # originRequest.httpHostHeader: the Host cloudflared sends instead of the hostname

    @property
    def origin(self) -> tuple[str, int] | None:
        """(host, port) the tunnel dials for this rule; ``None`` for http_status:404, unix sockets and the like."""
        try:
            parts = urlsplit(self.service)
            port = parts.port or DEFAULT_PORTS.get(parts.scheme)
        except ValueError:  # "http://[::1" or a port out of range
            return None
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname or not port:
            return None
        return parts.hostname, port


@dataclass(frozen=True)
class TunnelConfig:
    """cloudflared's config.yml: the tunnel, its metrics address and its ingress rules."""

    path: Path
    modified: float  # mtime, seconds since the epoch
    tunnel: str
    metrics: str
    ingress: tuple[Ingress, ...]
    logfile: str = ""
    log_directory: str = ""

    @classmethod
    def read(cls, path: str | Path) -> TunnelConfig:
        path = Path(path).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
            modified = path.stat().st_mtime
        except FileNotFoundError:
            raise TunnelConfigError(f"cloudflared config {path} does not exist") from None
        except OSError as error:
            raise TunnelConfigError(f"cannot read cloudflared config {path}: {error.strerror or error}") from None
        import yaml  # PyYAML only where a config is read: a host without cloudflared never needs it

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            where = getattr(error, "problem_mark", None)
            line = f" (line {where.line + 1})" if where is not None else ""
            raise TunnelConfigError(f"cloudflared config {path} is not valid YAML{line}") from None
        data = data if data is not None else {}
        rules = data.get("ingress", []) if isinstance(data, dict) else None
        if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
            raise TunnelConfigError(f"cloudflared config {path} has no readable ingress list (a YAML mapping with "
                                    "ingress: [{hostname, service}, ...] is expected)")
        defaults = _origin_request(data)
        ingress = tuple(
            Ingress(str(rule.get("hostname") or ""), str(rule.get("service") or ""), str(rule.get("path") or ""),
                    str(_origin_request(rule).get("httpHostHeader") or defaults.get("httpHostHeader") or ""))
            for rule in rules
        )
        return cls(path, modified, str(data.get("tunnel") or ""), str(data.get("metrics") or ""), ingress,
                   str(data.get("logfile") or ""), str(data.get("log-directory") or ""))

    def rule_for(self, hostname: str) -> Ingress | None:
        """The first rule that matches ``hostname``, as cloudflared picks it (``*.`` wildcards, catch-all)."""
        for rule in self.ingress:
            pattern = rule.hostname
            if not pattern or pattern == hostname:
                return rule
            if pattern.startswith("*.") and hostname.endswith(pattern[1:]):
                return rule
        return None


def _origin_request(table) -> dict:
    """A config's or a rule's originRequest settings (a rule's win over the config's)."""
    found = table.get("originRequest") if isinstance(table, dict) else None
    return found if isinstance(found, dict) else {}


def configs_in_use(target: Target) -> tuple[list[TunnelConfig], list[str]]:
    """The tunnel configs this host runs: tunnel.config, else the --config of each cloudflared that may run Care2's
    tunnel; and why the ones that could not be read could not."""
    paths = [target.tunnel.config] if target.tunnel.config else [
        str(process.config_path) for process in care2_tunnels(target.tunnel.name) if process.config_path
    ]
    configs, unread = [], []
    for path in dict.fromkeys(paths):
        try:
            configs.append(TunnelConfig.read(path))
        except TunnelConfigError as error:
            unread.append(str(error))
    return configs, unread


def care2_tunnels(name: str) -> list[Cloudflared]:
    """The cloudflared processes that may be Care2's: not those that run another named tunnel than ``name``."""
    return [process for process in find_cloudflared() if process.command.name in ("", name)]
