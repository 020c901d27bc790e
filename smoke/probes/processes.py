"""Processes as the OS sees them: command lines, working folders, parents, children, states (zombie, stopped) and
resident memory.

>>> [member.describe() for member in family([48211]) if member.zombie]   # doctest: +SKIP
['PID 48260 (node) is a zombie (defunct), child of PID 48211']
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import psutil

from . import fixes
from .findings import Finding

GONE = (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess)
# SIGSTOP (kill -STOP, Ctrl-Z) gives state T, a debugger t. psutil says "stopped" on Windows too, for a process
# every thread of which is suspended (Process.suspend(), Sysinternals' pssuspend), and "running" otherwise.
STOPPED = (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
# A process that has just exited is a zombie until its parent reaps it (within milliseconds), and has no memory as
# it goes: only one still so this long after is reported, not one caught in its last moment.
SETTLE_SECONDS = 0.5
SECRET_FLAG = re.compile(r"^--?[\w-]*(token|secret|password|passwd|key)[\w-]*$", re.IGNORECASE)
SECRET_ASSIGNMENT = re.compile(r"^(--?[\w-]*(?:token|secret|password|passwd|key)[\w-]*=).+$", re.IGNORECASE)


def command_line(cmdline: Sequence[str]) -> str:
    """A process's command line for a message, with the values of token/secret/password flags hidden.

    Arguments are stripped: a process that renames itself (Node's process.title, as PM2 does) pads with blanks.
    """
    shown = []
    hide_next = False
    for arg in (arg.strip() for arg in cmdline if arg.strip()):
        if hide_next:
            shown.append("***")
            hide_next = False
        elif SECRET_ASSIGNMENT.match(arg):
            shown.append(SECRET_ASSIGNMENT.sub(r"\1***", arg))
        else:
            shown.append(arg)
            hide_next = bool(SECRET_FLAG.match(arg))
    return " ".join(shown)


class Owner(NamedTuple):
    """Whose a Care2 process is: what it is ("PM2 app careconnect-backend-prod"), how to restart it, its role, and
    PM2's word for it when PM2 runs it ("online")."""

    what: str
    fix: fixes.Fix
    role: str
    pm2_status: str = ""


@dataclass(frozen=True)
class ProcessState:
    """One process: who it is, whose it is (``root``: the process it was found under) and its state."""

    pid: int
    ppid: int
    root: int
    name: str
    cmdline: tuple[str, ...]
    status: str  # psutil.STATUS_*: running, sleeping, zombie, stopped, ...
    rss: int | None  # resident memory in bytes; None when it may not be read
    cwd: str | None = None  # its working folder; None when it may not be read

    @property
    def zombie(self) -> bool:
        return self.status == psutil.STATUS_ZOMBIE

    @property
    def stopped(self) -> bool:
        """It runs no code until someone continues it: a stopped process accepts connections and answers none."""
        return self.status in STOPPED

    @property
    def state(self) -> str:
        """Its state in the OS's words, for a message: "stopped (state T)", on Windows "suspended"."""
        if psutil.WINDOWS:  # read at each call: a Windows-shaped sample (fixtures/windows) sets it
            return "suspended (every thread of it)" if self.stopped else self.status
        if self.status == psutil.STATUS_TRACING_STOP:
            return "stopped by a debugger (state t)"
        return "stopped (state T)" if self.stopped else self.status

    @property
    def without_memory(self) -> bool:
        """Alive, yet nothing of it is in memory: it is not running anything."""
        return not self.zombie and self.rss == 0

    def describe(self) -> str:
        command = command_line(self.cmdline) or self.name or "?"
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
    exiting = [state for state in found.values() if state.zombie or state.without_memory]
    if exiting:
        time.sleep(SETTLE_SECONDS)
    for state in exiting:
        try:
            again = _state(psutil.Process(state.pid), state.root)
        except psutil.NoSuchProcess:
            again = None
        if again is None:
            del found[state.pid]
        else:
            found[state.pid] = again
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
    rss = cwd = None
    if status != psutil.STATUS_ZOMBIE:
        try:
            cmdline = tuple(process.cmdline())
            rss = process.memory_info().rss
            cwd = process.cwd()
        except GONE:
            pass
    return ProcessState(process.pid, ppid, root, name, cmdline, status, rss, cwd)


def judge(owners: dict[int, Owner], members: list[ProcessState]) -> list[Finding]:
    """No zombie and no process without memory among Care2's: ``owners`` (root PID -> whose it is) and their
    ``members`` (family(owners))."""
    findings = []
    for member in members:
        owner, fix = owners[member.root].what, owners[member.root].fix
        if member.zombie:
            findings.append(Finding("fail", f"{member.describe()}, part of {owner}: its parent has not reaped it",
                                    fix.saying(f"{fix}; a zombie goes away when its parent exits")))
        elif member.without_memory:
            findings.append(Finding("fail", f"{member.describe()}, part of {owner}: alive but not running anything",
                                    fix.saying(f"{fix}; if it stays, {fixes.kill(member.pid)}")))
    return [*findings, Finding("note", f"{len(members)} Care2 processes, none a zombie or without memory")]
