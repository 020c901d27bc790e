"""Dual stack: does a client that dials an origin by the name ``localhost`` reach the service, on this host?

What counts is what clients here really do: this host's resolver gives ``localhost`` one or both loopback
addresses, in its order (Windows: ::1 first; many Linux hosts: 127.0.0.1 only). Most clients fall back to
the next address when the first refuses; cloudflared dialling its ingress did not (Jan 11: "dial tcp
[::1]:3000: connect: connection refused", then 502 and 1033).

>>> judge_origin(Dialled("localhost", 3001, "the API URL"), ("127.0.0.1",),
...              {"127.0.0.1": Reach(True, "accepted", 7), "::1": Reach(False, "connection refused")})[0].severity
'note'
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from ..target import Target
from . import cloudflared
from .findings import Finding
from .http import is_loopback
from .ports import LOCALHOST_ADDRESSES, dial, listening_on
from .processes import ancestors

WILDCARD_OF = {"127.0.0.1": ("0.0.0.0", ""), "::1": ("::",)}  # a socket on these accepts on the loopback address
DUAL_WILDCARD = "::"  # an IPv6 wildcard socket takes IPv4 too unless it is v6-only


@dataclass(frozen=True)
class Dialled:
    """An origin some client on this host dials: ``host`` is ``localhost`` or a loopback address."""

    host: str
    port: int
    who: str  # "the tunnel ingress for care2connects.org", "the API URL http://localhost:3001"
    place: str = ""  # where to change the address, for the fix ("" = wherever it is dialled)
    by_tunnel: bool = False  # cloudflared dials it: it does not fall back to the next address

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Reach:
    """One loopback address of the origin: whether it accepts, and the PID listening there (None = unknown)."""

    accepted: bool
    reason: str
    pid: int | None = None


def resolve(name: str = "localhost") -> tuple[str, ...]:
    """The loopback addresses this host's resolver gives for ``name``, in its order (() if it gives none)."""
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except OSError:
        return ()
    found = (info[4][0].split("%")[0] for info in infos)
    return tuple(dict.fromkeys(address for address in found if address in LOCALHOST_ADDRESSES))


def reach(port: int, timeout: float) -> dict[str, Reach]:
    """Both loopback addresses of ``port``: dialled, and, when both accept, who listens on each."""
    dials = {address: dial(address, port, timeout) for address in LOCALHOST_ADDRESSES}
    # reading the host's sockets is the slow part: only two accepting addresses can be two programs
    holders = listening_on(port) if all(attempt.accepted for attempt in dials.values()) else []
    found = {}
    for address, attempt in dials.items():
        pid = next((listener.pid for listener in holders if address in listener.addresses), None)
        if pid is None:
            pid = next((listener.pid for listener in holders
                        if set(WILDCARD_OF[address]) & set(listener.addresses) or DUAL_WILDCARD in listener.addresses),
                       None)
        found[address] = Reach(attempt.accepted, attempt.reason, pid)
    return found


def dialled_origins(target: Target) -> tuple[list[Dialled], list[str]]:
    """Each loopback origin some client on this host dials, from the tunnel's ingress and the environment's URLs;
    and the configs that could not be read."""
    found: dict[tuple[str, int], list[Dialled]] = {}
    configs, unread = cloudflared.configs_in_use(target)
    for config in configs:
        for rule in config.ingress:
            if rule.origin and is_loopback(rule.origin[0]):
                found.setdefault(rule.origin, []).append(Dialled(
                    *rule.origin, f"the tunnel ingress for {rule.hostname or 'every other host'}",
                    f"the tunnel ingress ({config.path})", by_tunnel=True))
    for what, url in (("site", target.site_url), ("API", target.api_url)):
        origin = cloudflared.Ingress("", url).origin
        if origin and origin[0] == "localhost":
            found.setdefault(origin, []).append(Dialled(*origin, f"the {what} URL {url}"))
    return [
        Dialled(host, port, " and ".join(d.who for d in dialled),
                next((d.place for d in dialled if d.place), ""), any(d.by_tunnel for d in dialled))
        for (host, port), dialled in found.items()
    ], unread


def judge(target: Target) -> list[Finding]:
    """Every origin a client here dials by name or loopback address, dialled on both loopback addresses and
    judged; a warning for each config that could not be read, and when there is nothing to check."""
    origins, unread = dialled_origins(target)
    findings = [Finding("warn", f"{problem}; its ingress is not checked") for problem in unread]
    resolved = resolve("localhost")
    for origin in origins:
        findings += judge_origin(origin, resolved, reach(origin.port, target.budgets.connect))
    if not origins:
        findings.append(Finding("warn", "not checked: no origin here is dialled by the name localhost as far as the "
                                        "environments file tells", "set tunnel.config to check the tunnel's ingress"))
    return findings


def judge_origin(origin: Dialled, resolved: tuple[str, ...], reached: dict[str, Reach]) -> list[Finding]:
    """Red only where a client here really fails or reaches another program; a risk elsewhere is a warning."""
    if origin.host != "localhost":
        return _literal(origin, reached)
    tried = resolved or ("127.0.0.1",)  # a resolver that gives no loopback address: clients fall back to IPv4
    accepting = [address for address in LOCALHOST_ADDRESSES if reached[address].accepted]
    where = origin.place or f"wherever localhost:{origin.port} is dialled"
    order = f"localhost is {' then '.join(tried)} on this host"
    if not accepting:
        return [Finding("note", f"nothing accepts on port {origin.port} (the ports check says why)")]
    v4, v6 = (reached[address] for address in LOCALHOST_ADDRESSES)
    if v4.accepted and v6.accepted and not _same_program(v4.pid, v6.pid):
        severity = "fail" if set(tried) >= set(LOCALHOST_ADDRESSES) else "warn"
        return [Finding(
            severity,
            f"{origin.name}, dialled by {origin.who}: 127.0.0.1:{origin.port} is held by PID {v4.pid} and "
            f"[::1]:{origin.port} by PID {v6.pid}: two programs, and a client reaches one or the other by the "
            f"address it tries first ({order})",
            f"stop the one that is not the service (the ports check names the service's PID), or use "
            f"http://127.0.0.1:{origin.port} in {where}",
        )]
    if not any(reached[address].accepted for address in tried):
        refused = "; ".join(f"{address} {reached[address].reason}" for address in tried)
        return [Finding(
            "fail",
            f"{origin.name}, dialled by {origin.who}: {order}, and there {refused}, while only "
            f"{' and '.join(accepting)} accepts: nobody dialling localhost reaches the service",
            f"use http://{_bracketed(accepting[0])}:{origin.port} in {where}, or make the service listen on "
            f"{tried[0]} too",
        )]
    findings = []
    for address in LOCALHOST_ADDRESSES:
        if reached[address].accepted:
            continue
        other = accepting[0]
        refused = (f"{_bracketed(address)}:{origin.port} {reached[address].reason} while "
                   f"{_bracketed(other)}:{origin.port} accepts")
        fix = (f"use http://{_bracketed(other)}:{origin.port} in {where}, or make the service listen on "
               f"{address} too")
        if address == tried[0]:
            # the first address refuses: cloudflared stops there; browsers, Node and curl try the next one
            severity = "fail" if origin.by_tunnel else "warn"
            findings.append(Finding(severity, f"{origin.name}, dialled by {origin.who}: {refused}, and {order}: "
                                    + ("cloudflared dials the first address only, so visitors get 502, then 1033"
                                       if origin.by_tunnel else "a client that does not fall back to the next "
                                       "address fails"), fix))
        elif address in tried or origin.by_tunnel:
            findings.append(Finding("warn", f"{origin.name}, dialled by {origin.who}: {refused}; {order}, but a "
                                    f"client that tries {address} first (where localhost resolves to it first, "
                                    "as on Windows) is refused", fix))
        else:
            findings.append(Finding("note", f"{origin.name}: {address} refuses, and no client here tries it "
                                    f"({order})"))
    return findings or [Finding("note", f"{origin.name} accepts on 127.0.0.1 and ::1")]


def _literal(origin: Dialled, reached: dict[str, Reach]) -> list[Finding]:
    address = origin.host.strip("[]")
    other = next(a for a in LOCALHOST_ADDRESSES if a != address)
    if reached[address].accepted:
        return [Finding("note", f"{origin.name} accepts")]
    if not reached[other].accepted:
        return [Finding("note", f"nothing accepts on port {origin.port} (the ports check says why)")]
    where = origin.place or f"wherever {origin.name} is dialled"
    return [Finding(
        "fail",
        f"{origin.name}, dialled by {origin.who}: {_bracketed(address)}:{origin.port} {reached[address].reason} "
        f"while {_bracketed(other)}:{origin.port} accepts"
        + (": the tunnel cannot reach it, so visitors get 502, then 1033" if origin.by_tunnel else ""),
        f"use http://{_bracketed(other)}:{origin.port} in {where}, or make the service listen on {address} too",
    )]


def _same_program(first: int | None, second: int | None) -> bool:
    if first is None or second is None or first == second:
        return True  # a PID the OS hides from this user cannot be told apart
    return first in ancestors(second) or second in ancestors(first)


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address
