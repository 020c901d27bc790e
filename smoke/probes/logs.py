"""The Care2 apps' logs on this host: where they are, their last lines, and what those lines say.

Where: each app's stdout and stderr files from PM2's list (``pm_out_log_path``, ``pm_err_log_path``) and PM2's
own log (``pm2.log`` in its PM2_HOME: exits, memory restarts); for cloudflared also its ``--logfile`` /
``--log-directory`` or the ``logfile:`` / ``log-directory:`` of its config (so also the Windows service's log,
where set); for the proxy the ``output file`` of its Caddyfile. A file is read from its end, at most TAIL_BYTES:
a missing or unreadable one is a note, never a failure.

What: the time of each line (PM2's ``time: true`` prefix, cloudflared's zerolog time, Caddy's JSON ``ts``,
morgan's ``[07/Dec/2026:17:12:49 +0000]``), errors with their stack's head and the app's own file:line, and
the signs that come before a failure (origin dial errors, a port in use, crashes, memory near PM2's limit).

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
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath

import psutil

from ..redact import Redactor
from ..text import size
from .findings import Finding

TAIL_BYTES = 256 * 1024  # per file, read from its end: enough for an hour of a quiet app, never slow
SIGNS_WINDOW = 3600.0  # the signs before a failure: the last hour
MEMORY_NEAR = 0.8  # memory at this share of PM2's max_memory_restart is a sign
EVIDENCE_PER_ROLE = 2  # error blocks quoted per role in a red line, newest first
QUOTE = 240  # characters of a quoted line
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
STACK_FRAME = re.compile(r"^\s+at\s")
FRAME_PATH = re.compile(r"\(?((?:[A-Za-z]:)?[\\/][^():]+|file://[^():]+):(\d+)(?::\d+)?\)?\s*$")
LIBRARY_FRAME = re.compile(r"node_modules|node:internal|^internal/|\(node:|<anonymous>$")
ORIGIN_ERROR = "Unable to reach the origin service"
DIALLED = re.compile(r"dial tcp (\[[0-9a-fA-F:.%\w]+\]:\d+|[\w.-]+:\d+): (?:connect(?:ex)?: )?([^\"]+?)(?:\"|$)")
PORT_IN_USE = re.compile(r"EADDRINUSE|address already in use|\bport \d+ (?:is )?(?:already )?in use|"
                         r"Only one usage of each socket address", re.IGNORECASE)
PM2_EXIT = re.compile(r"App \[(?P<name>[^:\]]+):\d+\] exited with code \[(?P<code>-?\d+)\] via signal "
                      r"\[(?P<signal>\w+)\]")
PM2_STOPPING = re.compile(r"Stopping app:(?P<name>\S+) id:")
PM2_MEMORY = re.compile(r"exceeds --max-memory-restart")
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


def sources(target, apps: Sequence, tunnels: Sequence) -> list[Source]:
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
    config = next((cmdline[i + 1] for i, arg in enumerate(cmdline[:-1]) if arg == "--config"), "")
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


# --- what they say -----------------------------------------------------------------------------------------------


class HostLogs:
    """The logs of this run, read when first asked and again where they grew: evidence for red lines, signs for
    warnings."""

    def __init__(self, found: list[Source], marks: dict[Path, int] | None, started: float,
                 redactor: Redactor | None = None):
        self.sources = found
        self.marks = marks  # None: no sizes were taken at the start; lines are placed in the run by their time
        self.started = started
        self.redactor = redactor or Redactor()
        self._reads: dict[Path, tuple[tuple[int, float] | None, Read]] = {}

    @property
    def reads(self) -> list[Read]:
        """Every source read; again only where it changed since (a check late in the run meets newer lines)."""
        found = []
        for source in self.sources:
            try:
                stat = source.path.stat()
                version = (stat.st_size, stat.st_mtime)
            except OSError:
                version = None
            known = self._reads.get(source.path)
            if known is None or known[0] != version or version is None:
                known = self._reads[source.path] = (version, self._read(source))
            found.append(known[1])
        return found

    def _read(self, source: Source) -> Read:
        start = self.marks.get(source.path) if self.marks is not None else None
        raw, note, modified = tail(source.path)
        read = Read(source, note=note, modified=modified)
        if note:
            return read
        after = len(raw)
        if start is not None:  # the lines after the mark are this run's: those are the last `after`
            fresh, _, _ = tail(source.path, start)
            after = len(fresh) if start > 0 else len(raw)
        when = None
        for number, text in enumerate(raw):
            stamp, said, level = parse_line(text)
            when = stamp or (when if not stamp and STACK_FRAME.match(said) else None)  # a frame: its error's time
            # a dated line by its time (the mark may come after the run's first requests); an undated one by the mark
            in_run = when >= self.started - 1 if when is not None else start is not None and number >= len(raw) - after
            read.lines.append(Line(said, when, level, source, in_run))
        if modified and modified >= self.started:
            self._last_error_in_run(read)
        return read

    @staticmethod
    def _last_error_in_run(read: Read) -> None:
        """An undated error that ends a file written during the run is the run's (before a mark too)."""
        lines = read.lines
        head = next((n for n in range(len(lines) - 1, -1, -1) if not STACK_FRAME.match(lines[n].text)), None)
        if head is not None and lines[head].level == "error" and lines[head].time is None:
            for n in range(head, len(lines)):
                lines[n] = Line(lines[n].text, None, lines[n].level, read.source, True)

    def evidence(self, role: str) -> list[str]:
        """The role's errors written during this run, newest first, one line each with their stack's head
        and the app's own file:line; a note for a log that could not be read."""
        quoted: list[tuple[float, str]] = []
        notes = []
        for read in self.reads:
            if read.source.role != role:
                continue
            if read.note:
                notes.append(f"{role} log: {read.note}")
                continue
            for block in error_blocks(read):
                # an undated error that ends the file was written when the file last changed
                when = block[0].time or (read.modified if block[-1] is read.lines[-1] else None)
                quoted.append((when or 0, read.source.owner, self.redactor.text(quote(block, read.source.cwd))))
        quoted.sort(key=lambda item: item[0], reverse=True)
        said = Counter((owner, text) for _, owner, text in quoted)  # the same error again: once, counted
        lines = []
        for when, owner, text in quoted:
            if (owner, text) in said:
                again = said.pop((owner, text))
                times = f", {again} times since the run started" if again > 1 else ""
                lines.append(f"{role} log ({owner}, {clock(when or None)}{times}): {text}")
        return lines[:EVIDENCE_PER_ROLE] + (notes if not quoted else [])

    def lines(self, within: float, now: float) -> Iterable[Line]:
        """Every line dated within the last ``within`` seconds."""
        for read in self.reads:
            yield from (line for line in read.lines if line.time is not None and now - line.time <= within)

    def signs(self, now: float, apps: Sequence = ()) -> dict[str, list[Finding]]:
        """The signs that come before a failure, from the last hour: check -> warnings ("tunnel": origin dial
        errors; "ports": a port in use; "processes": crashes, memory near PM2's limit)."""
        recent = list(self.lines(SIGNS_WINDOW, now))
        return {"tunnel": origin_errors(recent), "ports": ports_in_use(recent),
                "processes": crashes(recent) + memory_near_limit(recent, apps)}


def error_blocks(read: Read) -> list[list[Line]]:
    """The run's error lines of one file, each with the stack frames that follow it."""
    blocks: list[list[Line]] = []
    open_block = False
    for line in read.lines:
        if STACK_FRAME.match(line.text):
            if open_block:
                blocks[-1].append(line)
            continue
        open_block = line.level == "error" and line.in_run
        if open_block:
            blocks.append([line])
    return blocks


def quote(block: list[Line], cwd: str) -> str:
    """An error as one line: its text, then the app's own file:line from its stack, if any."""
    head = block[0].text.strip()
    frame = next((found for line in block[1:] if (found := own_frame(line.text, cwd))), "")
    said = head[:QUOTE] + ("…" if len(head) > QUOTE else "")
    return f"{said} at {frame}" if frame else said


def clock(epoch: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch)) if epoch else "during this run"


def _last(lines: list[Line]) -> str:
    return clock(max(line.time or 0 for line in lines))


def origin_errors(recent: list[Line]) -> list[Finding]:
    """cloudflared could not reach an origin: by the address it dialled, with the count and the last time."""
    failed = [line for line in recent if line.source.role == "tunnel" and ORIGIN_ERROR in line.text]
    # cloudflared logs one failed request twice (the proxy's error, then "Request failed"): count the first kind
    failed = [line for line in failed if not line.text.startswith("Request failed")] or failed
    by_address: dict[str, list[Line]] = {}
    for line in failed:
        found = DIALLED.search(line.text)
        by_address.setdefault(found.group(1) if found else "an origin", []).append(line)
    if not by_address:
        return []
    parts = []
    for address, lines in sorted(by_address.items(), key=lambda item: -len(item[1])):
        why = DIALLED.search(lines[-1].text)
        parts.append(f"{address} {len(lines)} time{'s' if len(lines) > 1 else ''} (last {_last(lines)}"
                     + (f": {why.group(2)}" if why else "") + ")")
    ipv6 = any(address.startswith("[::1]") for address in by_address)
    return [Finding(
        "warn",
        f"cloudflared's log shows {len(failed)} origin error{'s' if len(failed) > 1 else ''} "
        f"('{ORIGIN_ERROR}') in the last hour: " + ", ".join(parts),
        ("the tunnel dialled [::1] (localhost resolved to IPv6): use http://127.0.0.1:PORT in the ingress; " if ipv6
         else "") + "visitors got a 502 then: check that service stays up (pm2 logs) and its ingress address",
    )]


def ports_in_use(recent: list[Line]) -> list[Finding]:
    """An app could not bind its port (EADDRINUSE, 'port in use'), per app."""
    found: dict[str, list[Line]] = {}
    for line in recent:
        if line.source.role != "pm2" and PORT_IN_USE.search(line.text):
            found.setdefault(line.source.owner, []).append(line)
    return [Finding("warn", f"{owner}'s log says a port was in use {len(lines)} time{'s' if len(lines) > 1 else ''} "
                            f"in the last hour (last {_last(lines)}): {lines[-1].text.strip()[:QUOTE]}",
                    "another program held its port then: the Ports check names who holds it now")
            for owner, lines in found.items()]


def crashes(recent: list[Line]) -> list[Finding]:
    """Apps PM2 saw exit without being asked to stop (no 'Stopping app' just before), with the exit reason."""
    exits: dict[str, list[tuple[Line, str]]] = {}
    stopping: set[str] = set()
    for line in recent:
        if line.source.role != "pm2":
            continue
        if found := PM2_STOPPING.search(line.text):
            stopping.add(found.group("name"))
        elif found := PM2_EXIT.search(line.text):
            name = found.group("name")
            if name in stopping:
                stopping.discard(name)  # a pm2 stop/restart: asked for
                continue
            reason = f"code {found.group('code')}" + (f", signal {found.group('signal')}"
                                                     if found.group("signal") != "null" else "")
            exits.setdefault(name, []).append((line, reason))
    return [Finding("warn", f"{name} crashed {len(seen)} time{'s' if len(seen) > 1 else ''} in the last hour "
                            f"(PM2's log; last {_last([line for line, _ in seen])}: {seen[-1][1]})",
                    f"PM2 restarted it; pm2 logs {name} --lines 100 says why")
            for name, seen in exits.items()]


def memory_near_limit(recent: list[Line], apps: Sequence) -> list[Finding]:
    """Apps near PM2's max_memory_restart now, or restarted by PM2 for passing it in the last hour."""
    findings = []
    restarted = Counter(line.text for line in recent if line.source.role == "pm2" and PM2_MEMORY.search(line.text))
    if restarted:
        count = sum(restarted.values())
        findings.append(Finding("warn", f"PM2 restarted an app {count} time{'s' if count > 1 else ''} in the last "
                                        f"hour for passing its max_memory_restart: {next(iter(restarted))[:QUOTE]}",
                                "its memory climbs until PM2 restarts it: a leak; restart it before the demo"))
    for app in apps:
        if app.max_memory and app.memory and app.memory >= MEMORY_NEAR * app.max_memory:
            findings.append(Finding(
                "warn", f"{app.name} uses {size(app.memory)}, {app.memory / app.max_memory:.0%} of its "
                        f"max_memory_restart ({size(app.max_memory)}): PM2 will restart it when it passes it",
                f"pm2 restart {app.name} before the demo, so it does not restart during it"))
    return findings


def all_sources_read(logs: HostLogs) -> list[str]:
    """One note per log file: read, or why not (for a green check's line and the incident bundle)."""
    return [read.note or f"{read.source.path} ({len(read.lines)} lines read)" for read in logs.reads]
