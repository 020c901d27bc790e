"""What the Care2 apps' logs on this host say: the evidence a red line quotes (errors with their stack's head and
the app's own file:line) and the signs that come before a failure (origin dial errors, a port in use, crashes, memory
near PM2's limit). Where the logs are and how their lines read: logs.py.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from ..redact import Redactor
from ..text import size
from .findings import Finding
from .logs import (
    Line,
    Read,
    Source,
    own_frame,
    parse_line,
    tail,
)

SIGNS_WINDOW = 3600.0  # the signs before a failure: the last hour
MEMORY_NEAR = 0.8  # memory at this share of PM2's max_memory_restart is a sign
EVIDENCE_PER_ROLE = 2  # error blocks quoted per role in a red line, newest first
QUOTE = 240  # characters of a quoted line
STACK_FRAME = re.compile(r"^\s+at\s")
ORIGIN_ERROR = "Unable to reach the origin service"
DIALLED = re.compile(r"dial tcp (\[[0-9a-fA-F:.%\w]+\]:\d+|[\w.-]+:\d+): (?:connect(?:ex)?: )?([^\"]+?)(?:\"|$)")
PORT_IN_USE = re.compile(r"EADDRINUSE|address already in use|\bport \d+ (?:is )?(?:already )?in use|"
                         r"Only one usage of each socket address", re.IGNORECASE)
PM2_EXIT = re.compile(r"App \[(?P<name>[^:\]]+):\d+\] exited with code \[(?P<code>-?\d+)\] via signal "
                      r"\[(?P<signal>\w+)\]")
PM2_STOPPING = re.compile(r"Stopping app:(?P<name>\S+) id:")
PM2_MEMORY = re.compile(r"exceeds --max-memory-restart")


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
        return self._reads_of(self.sources)

    def _reads_of(self, sources: Iterable[Source]) -> list[Read]:
        found = []
        for source in sources:
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
        for read in self._reads_of(source for source in self.sources if source.role == role):
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
        errors; "ports": a port in use; "processes": crashes of ``apps``, memory near PM2's limit). ``apps``: Care2's
        apps in PM2's list (its daemon may run others, dev apps say, whose crashes are not the demo's)."""
        recent = list(self.lines(SIGNS_WINDOW, now))
        return {"tunnel": origin_errors(recent), "ports": ports_in_use(recent),
                "processes": crashes(recent, {app.name for app in apps}) + memory_near_limit(recent, apps)}


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


def crashes(recent: list[Line], names: Collection[str]) -> list[Finding]:
    """Apps among ``names`` that PM2 saw exit without being asked to stop (no 'Stopping app' just before), with the
    exit reason."""
    exits: dict[str, list[tuple[Line, str]]] = {}
    stopping: set[str] = set()
    for line in recent:
        if line.source.role != "pm2":
            continue
        if found := PM2_STOPPING.search(line.text):
            stopping.add(found.group("name"))
        elif found := PM2_EXIT.search(line.text):
            name = found.group("name")
            if name not in names:
                continue
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

