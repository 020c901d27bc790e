"""Processes as the OS sees them: command lines, parents, children, zombies and resident memory.

>>> [member.describe() for member in family([48211]) if member.zombie]   # doctest: +SKIP
['PID 48260 (node) is a zombie (defunct), child of PID 48211']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from . import fixes
from .findings import Finding

GONE = (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess)


@dataclass(frozen=True)
class ProcessState:
    """One process: who it is, whose it is (``root``: the process it was found under) and its state."""

    pid: int
    ppid: int
    root: int
    name: str
    cmdline: tuple[str, ...]
    status: str  # psutil.STATUS_*: running, sleeping, zombie, ...
    rss: int | None  # resident memory in bytes; None when it may not be read

    @property
    def zombie(self) -> bool:
        return self.status == psutil.STATUS_ZOMBIE

    @property
    def without_memory(self) -> bool:
        """Alive, yet nothing of it is in memory: it is not running anything."""
        return not self.zombie and self.rss == 0

    def describe(self) -> str:
        command = " ".join(self.cmdline) or self.name or "?"
        if self.zombie:
            return f"PID {self.pid} ({command}) is a zombie (defunct), child of PID {self.ppid}"
        return f"PID {self.pid} ({command}) has {self.rss} bytes of resident memory"


def family(roots: Iterable[int]) -> list[ProcessState]:
    """The processes ``roots`` (those that exist) and all their children, zombies included."""
    found: dict[int, ProcessState] = {}
    for root in roots:
        try:
            members = [psutil.Process(root)]
        except GONE:
            continue
        try:
            members += members[0].children(recursive=True)
        except GONE:
            pass
        for member in members:
            if member.pid not in found:
                state = _state(member, root)
                if state is not None:
                    found[member.pid] = state
    return sorted(found.values(), key=lambda state: state.pid)


def name_and_cmdline(pid: int | None) -> tuple[str, tuple[str, ...]]:
    """The process's name and command line, as much of them as may be read."""
    if not pid:
        return "", ()
    try:
        process = psutil.Process(pid)
        name = process.name()
    except GONE:
        return "", ()
    try:
        return name, tuple(process.cmdline())
    except GONE:
        return name, ()


def start_time(pid: int | None) -> float:
    """When the process started (psutil's create_time), to know it again later; 0.0 when it cannot be read."""
    try:
        return psutil.Process(pid).create_time() if pid else 0.0
    except GONE:
        return 0.0


def ancestors(pid: int) -> list[int]:
    """The parent, its parent, ... up to the first process."""
    try:
        return [parent.pid for parent in psutil.Process(pid).parents()]
    except GONE:
        return []


def _state(process: psutil.Process, root: int) -> ProcessState | None:
    try:
        with process.oneshot():
            status, ppid, name = process.status(), process.ppid(), process.name()
    except psutil.NoSuchProcess:
        return None
    except psutil.AccessDenied:
        return ProcessState(process.pid, 0, root, "", (), "unknown", None)
    cmdline: tuple[str, ...] = ()
    rss = None
    if status != psutil.STATUS_ZOMBIE:
        try:
            cmdline = tuple(process.cmdline())
            rss = process.memory_info().rss
        except GONE:
            pass
    return ProcessState(process.pid, ppid, root, name, cmdline, status, rss)


def judge(members: list[ProcessState], owners: dict[int, tuple[str, fixes.Fix]]) -> list[Finding]:
    """No zombie and no process without memory among Care2's; ``owners``: root PID -> (what it is, its restart)."""
    findings = []
    for member in members:
        owner, fix = owners[member.root]
        if member.zombie:
            findings.append(Finding("fail", f"{member.describe()}, part of {owner}: its parent has not reaped it",
                                    fix.saying(f"{fix}; a zombie goes away when its parent exits")))
        elif member.without_memory:
            findings.append(Finding("fail", f"{member.describe()}, part of {owner}: alive but not running anything",
                                    fix.saying(f"{fix}; if it stays, {fixes.kill(member.pid)}")))
    return [*findings, Finding("note", f"{len(members)} Care2 processes, none a zombie or without memory")]
