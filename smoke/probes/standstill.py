"""Care2 processes that PM2 (or their port) counts as running while they serve nothing: stopped, or hung.

A stopped process (SIGSTOP, Ctrl-Z: state T; on Windows every thread suspended) runs no code, yet the OS still
accepts connections on its ports for it: clients wait until they give up, and PM2 still says "online". A hung one
(an event loop that never comes back) looks the same from outside while it runs. Both take a restart: a start
does nothing for an app PM2 counts as online.

>>> [finding.what for finding in judge(target, http, care2.roots(target, listing))]   # doctest: +SKIP
["PID 48211 (PM2 app careconnect-backend-prod, 'online') is stopped (state T): online in PM2 but stopped, ..."]
"""

from __future__ import annotations

from dataclasses import dataclass

from ..target import Target
from ..text import clip
from . import fixes, ports, processes
from .findings import Finding
from .http import Client, NoAnswer
from .ports import Listener
from .processes import Owner, ProcessState, command_line

COMMAND_CHARS = 100  # of a child's command line in a message: enough to tell what it runs
HUNG = "timeout"  # NoAnswer.kind of a server that accepted the connection and sent nothing back


@dataclass(frozen=True)
class Standstill:
    """One Care2 process that serves nothing: who, what is wrong with it, how to get it going again."""

    role: str
    pid: int
    what: str
    fix: fixes.Fix
    brief: str  # the what in short, for a fix elsewhere: "PID 7712 (child of PID 7677, ...) is stopped (state T)"
    still_served: bool = False  # another process of the same app still answers: a risk, not yet a failure


def judge(target: Target, http: Client, owners: dict[int, Owner]) -> list[Finding]:
    """A failure for each Care2 process that serves nothing (a warning where its app still answers through another
    process); ``owners``: care2.roots."""
    return [Finding("warn" if still.still_served else "fail", still.what, still.fix)
            for still in find(target, http, owners)]


def find(target: Target, http: Client, owners: dict[int, Owner], role: str = "") -> list[Standstill]:
    """Every Care2 process (``owners``: care2.roots; of ``role`` only, if given) that is stopped, or whose port
    accepts and answers nothing."""
    owners = {pid: owner for pid, owner in owners.items() if role in ("", owner.role)}
    members = processes.family(owners)
    listening = ports.listeners()
    found = []
    for root, owner in owners.items():
        family = [member for member in members if member.root == root]
        held = [listener for listener in listening if any(listener.pid == member.pid for member in family)]
        found += _stopped(owner, family, held) or _hung(target, http, owner, family, held)
    return found


def _stopped(owner: Owner, family: list[ProcessState], held: list[Listener]) -> list[Standstill]:
    """The app's stopped processes, as one standstill named by the one that matters most (a listener)."""
    stopped = [member for member in family if member.stopped]
    serving = [listener for listener in held if listener.pid not in {member.pid for member in stopped}]
    said = []
    for member in stopped:
        own = [listener for listener in held if listener.pid == member.pid]
        what = f"{_who(member, owner, family)} is {member.state}"
        if owner.pm2_status == "online":
            what += f": online in PM2 but {member.state.split(' (')[0]}"
        if own:
            what += f"; port {', '.join(str(listener.port) for listener in own)} accepts connections for it and " \
                    "nothing answers"
        elif serving:
            what += (f"; the app still answers through PID {serving[0].pid}, but nothing runs in PID {member.pid} "
                     "until it is continued or killed")
        said.append((bool(own), member, what))
    if not said:
        return []
    said.sort(key=lambda entry: not entry[0])  # a stopped listener first: it is why nothing answers
    listens, member, _ = said[0]
    brief = f"{_who(member, owner, family, short=True)} is {member.state}"
    return [Standstill(owner.role, member.pid, "; ".join(what for _, _, what in said), _restart(owner), brief,
                       bool(serving) and not listens)]


def _hung(target: Target, http: Client, owner: Owner, family: list[ProcessState],
          held: list[Listener]) -> list[Standstill]:
    """The app's listener on its configured port accepts, then says nothing within the read budget, to its health
    path and to / alike (one slow handler is not a hung process: API health judges its time)."""
    port = target.service_port(owner.role) if owner.role in ports.ROLES else 0
    paths = dict.fromkeys([ports.health_path(target, owner.role), "/"])
    for listener in (listener for listener in held if port and listener.port == port):
        if all(_silent(http, listener.url + path) for path in paths):
            member = next(member for member in family if member.pid == listener.pid)
            hangs = f"accepts connections on port {port} but answers nothing in {http.read:g} s: it hangs"
            online = ", online in PM2" if owner.pm2_status == "online" else ""
            what = f"{_who(member, owner, family)} {hangs}{online}"
            return [Standstill(owner.role, member.pid, what, _restart(owner),
                               f"{_who(member, owner, family, short=True)} {hangs}")]
    return []


def _silent(http: Client, url: str) -> bool:
    """Connected, then no answer within the read budget."""
    try:
        http.get(url)
    except NoAnswer as failure:
        return failure.kind == HUNG
    return False


def _who(member: ProcessState, owner: Owner, family: list[ProcessState], short: bool = False) -> str:
    """'PID 7677 (PM2 app careconnect-backend-prod, 'online')', or a child of it by its command line (clipped;
    ``short``: without it)."""
    root = next(process for process in family if process.pid == member.root)
    whose = owner.what + (f", {owner.pm2_status!r}" if owner.pm2_status else "")
    if member.pid == root.pid:
        return f"PID {member.pid} ({whose})"
    if short:
        return f"PID {member.pid} (child of PID {root.pid}, {whose})"
    command = clip(command_line(member.cmdline) or member.name, COMMAND_CHARS)
    return f"PID {member.pid} ({command}), child of PID {root.pid} ({whose}),"


def _restart(owner: Owner) -> fixes.Fix:
    if owner.pm2_status == "online":
        return owner.fix.saying(f"restart it, not start it (PM2 counts it as online): {owner.fix}")
    return owner.fix.saying(f"restart it: {owner.fix}")
