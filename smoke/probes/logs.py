"""The Care2 apps' logs on this host: where they are, their last lines, and how those lines read.

Where: each app's stdout and stderr files from PM2's list (``pm_out_log_path``, ``pm_err_log_path``) and PM2's
own log (``pm2.log`` in its PM2_HOME: exits, memory restarts); for cloudflared also its ``--logfile`` /
``--log-directory`` or the ``logfile:`` / ``log-directory:`` of its config (so also the Windows service's log,
where set); for the proxy the ``output file`` of its Caddyfile. A file is read from its end, at most TAIL_BYTES:
a missing or unreadable one is a note, never a failure.

How: the time of each line (PM2's ``time: true`` prefix, cloudflared's zerolog time, Caddy's JSON ``ts``,
morgan's ``[07/Dec/2026:17:12:49 +0000]``), its level, and a stack frame's own file:line. What the lines say
(evidence, signs): log_signs.py.

>>> stamp, rest, level = parse_line("2026-12-07T17:12:49Z ERR Request failed")
>>> rest, level
('Request failed', 'error')
>>> own_frame("    at <anonymous> (/srv/backend/src/routes/story.ts:39:54)", "/srv/backend")
'src/routes/story.ts:39'
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath

import psutil

from ..target import Target
from .caddy import caddy_flag

TAIL_BYTES = 256 * 1024  # per file, read from its end: enough for an hour of a quiet app, never slow
CLOUDFLARED_LOG = "cloudflared.log"  # the file cloudflared writes in its --log-directory

# 2026-12-07T17:12:49: (PM2's time: true, local time) or 2026-12-07T17:12:49Z / .123+01:00 (zerolog, ISO)
ISO_PREFIX = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?):?\s")
ZEROLOG_LEVEL = re.compile(r"^(TRC|DBG|INF|WRN|ERR|FTL|PNC)\s")
# Caddy's `format console`: "2026/12/07 17:12:49.123<TAB>ERROR<TAB>logger<TAB>message<TAB>{json}" (local time)
CADDY_CONSOLE = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\t(?:\x1b\[[\d;]*m)?([A-Z]+)(?:\x1b\[0m)?\t"
                           r"(\S+)\t([^\t]*)(?:\t(\{.*))?$")
MORGAN_TIME = re.compile(r"\[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\]")
ERROR_WORDS = re.compile(
    r"(\b[A-Z]\w*Error\b|\bError:|\bUnhandled|\bFATAL\b|\bERR!|\bException\b|^Error\b|\bE[A-Z]{4,}\b.*:|❌)")
FRAME_PATH = re.compile(r"\(?((?:[A-Za-z]:)?[\\/][^():]+|file://[^():]+):(\d+)(?::\d+)?\)?\s*$")
LIBRARY_FRAME = re.compile(r"node_modules|node:internal|^internal/|\(node:|<anonymous>$")
CADDY_LOG_FILE = re.compile(r"^\s*output\s+file\s+(\S+)", re.MULTILINE)


@dataclass(frozen=True)
class Source:
    """One log file of a Care2 role, and whose it is."""

    role: str  # frontend, backend, tunnel, proxy; "pm2" for PM2's own log
    owner: str  # the PM2 app, "cloudflared --logfile", "Caddyfile"...
    path: Path
    cwd: str = ""  # the app's folder: its own frames are shown relative to it


@dataclass(frozen=True)
class Line:
    text: str  # without the timestamp prefix
    time: float | None  # seconds since the epoch; None when the line carries none
    level: str  # "error", "warn" or ""
    source: Source
    in_run: bool  # written after the run started (after the mark; or dated so)


@dataclass
class Read:
    """What a source gave: its lines (the last TAIL_BYTES), or why it gave none."""

    source: Source
    lines: list[Line] = field(default_factory=list)
    note: str = ""
    modified: float | None = None


def parse_line(raw: str) -> tuple[float | None, str, str]:
    """(time, text without its time prefix, level) of one log line; any of its prefixes may be missing."""
    text, stamp = raw.rstrip("\r\n"), None
    for _ in range(2):  # PM2's prefix, then the app's own (cloudflared's under PM2 with time: true)
        found = ISO_PREFIX.match(text)
        if not found:
            break
        stamp = stamp or _iso(found.group(1))
        text = text[found.end():]
    level = ""
    if found := ZEROLOG_LEVEL.match(text):
        level = {"ERR": "error", "FTL": "error", "PNC": "error", "WRN": "warn"}.get(found.group(1), "")
        text = text[found.end():].lstrip()
    elif text.startswith("{"):
        stamp, text, level = _json_line(text, stamp)
    elif found := CADDY_CONSOLE.match(text):
        stamp, text, level = _caddy_console(found)
    if stamp is None and (found := MORGAN_TIME.search(text)):
        stamp = _parsed(found.group(1), "%d/%b/%Y:%H:%M:%S %z")
    if not level and ERROR_WORDS.search(text):
        level = "error"
    return stamp, text, level


def _iso(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()  # no zone (PM2's prefix): this host's local time
    except ValueError:
        return None


def _parsed(text: str, pattern: str) -> float | None:
    try:
        return datetime.strptime(text, pattern).timestamp()
    except ValueError:
        return None


def _json_line(text: str, stamp: float | None) -> tuple[float | None, str, str]:
    """A JSON log line (Caddy's): its ts, its message with the error, its level."""
    try:
        entry = json.loads(text)
    except ValueError:
        return stamp, text, ""
    if not isinstance(entry, dict):
        return stamp, text, ""
    ts = entry.get("ts")
    if isinstance(ts, (int, float)):
        stamp = float(ts)
    elif isinstance(ts, str):
        stamp = _iso(ts.replace("Z", "+00:00")) or stamp
    level = str(entry.get("level", "")).lower()
    said = " ".join(str(entry[key]) for key in ("logger", "msg", "error") if entry.get(key))
    return stamp, said or text, "error" if level in ("error", "fatal", "panic") else "warn" if level == "warn" else ""


def _caddy_console(found: re.Match) -> tuple[float | None, str, str]:
    """A Caddy console line: an access entry is an error when it answered 5xx (Caddy says ERROR for a 404 too)."""
    when, level, logger, message, fields = found.groups()
    try:
        entry = json.loads(fields) if fields else {}
    except ValueError:
        entry = {}
    request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
    status = entry.get("status")
    said = f"{logger} {message}" + (f" {entry['error']}" if entry.get("error") else "")
    if request:
        said += f": {request.get('method', '?')} {request.get('host', '')}{request.get('uri', '')} -> {status}"
    failed = level in ("ERROR", "FATAL", "PANIC") and not (isinstance(status, int) and status < 500)
    return _parsed(when.partition(".")[0], "%Y/%m/%d %H:%M:%S"), said, "error" if failed else ""


def own_frame(frame: str, cwd: str) -> str:
    """The app's own file:line in a stack frame (not a library's, not Node's), relative to the app's folder."""
    found = FRAME_PATH.search(frame.strip())
    if not found or LIBRARY_FRAME.search(found.group(1)):
        return ""
    path, line = found.group(1).removeprefix("file://"), found.group(2)
    flavour = PureWindowsPath if re.match(r"^[A-Za-z]:", path) else PurePosixPath
    try:
        path = flavour(path).relative_to(flavour(cwd)).as_posix() if cwd else path
    except ValueError:
        pass
    return f"{path}:{line}"


def tail(path: Path, start: int | None = None) -> tuple[list[str], str, float | None]:
    """The lines of ``path`` from ``start`` (or its last TAIL_BYTES, whichever is later); a note when it cannot
    be read; its modification time."""
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            begin = max(stat.st_size - TAIL_BYTES, 0)
            if start is not None and start <= stat.st_size:  # a file cut shorter since (rotated) is read anew
                begin = max(begin, start)
            handle.seek(begin)
            data = handle.read(stat.st_size - begin)
    except FileNotFoundError:
        return [], f"{path} does not exist", None
    except OSError as error:
        return [], f"cannot read {path}: {error.strerror or error}", None
    lines = data.decode("utf-8", errors="replace").splitlines()
    if begin > 0 and begin != start and lines:
        lines = lines[1:]  # the first line was cut by the tail's start
    return lines, "", stat.st_mtime


def mark(paths: Iterable[Path]) -> dict[Path, int]:
    """The size of each file now: what is written after it belongs to this run."""
    sizes = {}
    for path in paths:
        try:
            sizes[path] = path.stat().st_size
        except OSError:
            sizes[path] = 0  # written later, if at all: all of it is this run's
    return sizes


# --- where the logs are ------------------------------------------------------------------------------------------


def sources(target: Target, apps: Sequence, tunnels: Sequence) -> list[Source]:
    """Every log file of a Care2 role: PM2's files for its apps, PM2's own log, cloudflared's and Caddy's own."""
    roles = {name: role for role, name in target.pm2.apps.items()}
    found: list[Source] = []
    for app in apps:
        role = roles.get(app.name)
        if role is None:
            continue
        for path in dict.fromkeys(filter(None, (app.err_log, app.out_log))):
            found.append(Source(role, app.name, Path(path), app.cwd))
        if role == "proxy":
            found += caddy_logs(app)
    homes = dict.fromkeys(app.home for app in apps if app.home and app.name in roles)
    found += [Source("pm2", "PM2", joined(home, "pm2.log")) for home in homes]
    for process in tunnels:
        found += [Source("tunnel", f"cloudflared PID {process.pid}", path, process.cwd)
                  for path in cloudflared_logs(process, target.tunnel.config)]
    unique: dict[Path, Source] = {}
    for source in found:
        unique.setdefault(source.path, source)
    return list(unique.values())


def cloudflared_logs(process, configured: str = "") -> list[Path]:
    """The files cloudflared logs to: --logfile, --log-directory, else the same keys in its config."""
    from .cloudflared import TunnelConfig, TunnelConfigError

    command = process.command
    logfile, directory = command.logfile, command.log_directory
    config_path = process.config_path or (Path(configured) if configured else None)
    if not (logfile or directory) and config_path is not None:
        try:
            config = TunnelConfig.read(config_path)
        except TunnelConfigError:
            config = None
        if config is not None:
            logfile, directory = config.logfile, config.log_directory
    paths = [logfile] if logfile else []
    paths += [str(joined(directory, CLOUDFLARED_LOG))] if directory else []
    return [absolute(str(path), process.cwd) for path in paths]


def config_argument(app) -> Path | None:
    """The --config its process runs with (Caddy's Caddyfile), from its folder; None when not to be read."""
    try:
        cmdline = psutil.Process(app.pid).cmdline() if app.pid > 0 else []
    except psutil.Error:
        return None
    config = caddy_flag(cmdline, "config")
    return absolute(config, app.cwd) if config else None


def absolute(path: str, cwd: str) -> Path:
    """``path`` from the folder ``cwd`` unless it is absolute (a Windows one too, whichever OS reads it)."""
    if Path(path).is_absolute() or PureWindowsPath(path).is_absolute() or not cwd:
        return Path(path)
    return joined(cwd, path)


def joined(folder: str, name: str) -> Path:
    """``folder``/``name``, with Windows' separator for a Windows folder (C:\\...) whichever OS reads it."""
    return Path(str(PureWindowsPath(folder) / name)) if PureWindowsPath(folder).drive else Path(folder) / name


def caddy_logs(app) -> list[Source]:
    """The files the proxy's Caddyfile logs to (``output file``)."""
    path = config_argument(app)
    try:
        text = path.read_text(encoding="utf-8", errors="replace") if path else ""
    except OSError:
        return []
    return [Source("proxy", f"Caddyfile {path.name}", absolute(file, str(path.parent)))
            for file in CADDY_LOG_FILE.findall(text)]
