"""The path of a visitor's request on this host, hop by hop: the tunnel's ingress -> the proxy (Caddy) -> the app.

Each hop is asked as the hop before it asks: cloudflared dials the first address its service's name resolves to
(no fallback) and sends the public host name as Host, unless the rule's originRequest.httpHostHeader names
another; Caddy picks its route by that Host and passes it on (Care2's `header_up Host {host}`). When a hop answers
as a gateway (502, 503, 504) or not at all, the proxy's own config (`caddy adapt`, by the binary that runs it)
names its upstream, which is asked next. The first hop that fails is named, with what it answered. Without a
tunnel config, the proxy's routes for the environment's public host names are walked. Only loopback is dialled.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

from ..target import Target
from . import caddy, cloudflared, fixes
from .findings import Finding
from .http import Answer, Client, NoAnswer, is_loopback

GATEWAY = (502, 503, 504)
ROLES = {"frontend": "the frontend", "backend": "the backend"}
MAX_HOPS = 3  # the tunnel's service, the proxy's upstream, one more proxy behind it
REFUSED = "refuses: nothing listens there"


@dataclass(frozen=True)
class Route:
    """A public host name and where this host's first hop for it is: cloudflared's ingress, or the proxy."""

    hostname: str
    service: str  # http://127.0.0.1:8080
    host_header: str  # the Host the first hop gets
    via: str  # "the tunnel ingress (config.yml)", "the proxy (ports.proxy)"


@dataclass(frozen=True)
class Walked:
    """One route walked: its finding, and whether the app at its end answered (X-Care2-Origin as expected)."""

    route: Route
    finding: Finding
    answered: bool = False  # only then has every hop on this host been seen to answer

    @property
    def broken(self) -> bool:
        return self.finding.severity == "fail"


def role_of(target: Target, hostname: str) -> str | None:
    return {target.hostnames.site: "frontend", target.hostnames.api: "backend"}.get(hostname)


def routes(target: Target) -> tuple[list[Route], list[Finding]]:
    """The routes to walk: each ingress rule of the tunnel's config with a host name, else the proxy's routes for
    the environment's public host names; and a note or warning for each rule not asked."""
    configs, unread = cloudflared.configs_in_use(target)
    found: list[Route] = []
    notes = [Finding("warn", f"{problem}; its ingress is not walked") for problem in unread]
    for config in configs:
        for rule in config.ingress:
            if not rule.hostname or rule.service.startswith("http_status:"):
                continue  # the catch-all: no public name to ask with
            where = f"the tunnel ingress for {rule.hostname} ({config.path})"
            origin = rule.origin
            if rule.hostname.startswith("*"):
                notes.append(Finding("note", f"{where}: a wildcard host name, not asked"))
            elif origin is None or urlsplit(rule.service).scheme not in ("http", "https"):
                notes.append(Finding("note", f"{where}: {rule.service} is not an HTTP service, not asked"))
            else:
                found.append(Route(rule.hostname, rule.service, rule.http_host_header or rule.hostname,
                                   f"the tunnel ingress ({config.path})"))
    if not configs and not unread and target.ports.proxy:
        found = [Route(name, f"http://127.0.0.1:{target.ports.proxy}", name, "the path check (no tunnel config)")
                 for name in (target.hostnames.site, target.hostnames.api)]
    return found, notes


def first_address(name: str) -> str | None:
    """The address a dialler without fallback reaches for ``name``: the first this host's resolver gives."""
    try:
        return socket.getaddrinfo(name.strip("[]"), None, type=socket.SOCK_STREAM)[0][4][0].split("%")[0]
    except (OSError, IndexError):
        return None


def url_for(address: str, port: int, path: str, scheme: str = "http") -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{scheme}://{host}:{port}{path}"


def role_at(target: Target, port: int) -> str | None:
    """The role the environment gives ``port`` (proxy, frontend, backend), if any."""
    if not port:
        return None
    return {target.ports.proxy: "proxy", target.ports.frontend: "frontend", target.ports.backend: "backend"}.get(port)


def hop_name(target: Target, port: int, answer: Answer | None = None) -> str:
    """How a message names what listens on ``port``: by what it answers as, else by the port the environment
    gives it."""
    if answer is not None and (answer.header("server") or "").lower().startswith("caddy"):
        return "Caddy"
    return {"proxy": "the proxy", **ROLES}.get(role_at(target, port), "the service")


def configured_as(target: Target, port: int) -> str:
    """" (ports.proxy)" when the environment gives ``port`` to a role."""
    role = role_at(target, port)
    return f" (ports.{role})" if role else ""


def walk(target: Target, http: Client, route: Route) -> Walked:
    """Ask each hop of ``route`` as the one before it asks, down to the app; the first failure is the finding."""
    role = role_of(target, route.hostname)
    path = target.paths.api_live if role == "backend" else "/"
    scheme = urlsplit(route.service).scheme
    name, port = cloudflared.Ingress(route.hostname, route.service).origin  # routes() keeps HTTP services only
    address = first_address(name)
    if address is None:  # cloudflared resolves it on this host too: it cannot dial it either
        return Walked(route, Finding(
            "fail", f"{route.hostname}: {route.via} sends it to {route.service}, whose name {name} does not resolve "
                    "on this host: cloudflared cannot reach it, so every visitor gets 502 Bad Gateway",
            f"use {scheme}://127.0.0.1:{port} in the ingress (its name {name} does not resolve on this host), then "
            f"{fixes.restart(target, 'tunnel')}"))
    if not is_loopback(address):
        return Walked(route, Finding("note", f"{route.hostname}: {route.via} sends it to {route.service}, whose "
                                             f"name resolves to {address}: not on this host's loopback, not asked"))
    shown = f"{route.hostname} (Host {route.host_header})" if route.host_header != route.hostname else route.hostname
    url = url_for(address, port, path, scheme)
    hops = [route.via]
    before = ""  # the gateway that sent us here and what it said
    for _ in range(MAX_HOPS):
        try:
            answer, unanswered = http.get(url, {"host": route.host_header}), None
        except NoAnswer as failure:
            answer, unanswered = None, failure
        who, where = hop_name(target, port, answer), f"{urlsplit(url).netloc}{configured_as(target, port)}"
        at = f"{who} on {where}"
        hops.append(at)
        identity = answer.header("x-care2-origin") if answer is not None else None
        if identity:
            app = ROLES.get(identity, identity)
            if role and identity != role:
                return Walked(route, Finding(
                    "fail", f"{shown} reaches {app}, not {ROLES[role]}: {' -> '.join(hops)} (GET {path} -> "
                            f"{answer.status}, X-Care2-Origin: {identity})",
                    f"route {route.hostname} to {ROLES[role]} (port {target.service_port(role)}) in the proxy's "
                    "config or the tunnel ingress"))
            if before:
                restart = fixes.restart(target, "proxy")  # it runs (it answered): a restart clears what it marked
                return Walked(route, Finding(
                    "fail", f"{before} for {shown}, while its upstream {urlsplit(url).netloc} answers {answer.status} "
                            f"as {app}: the proxy has marked it down (its health check looks again every "
                            "health_interval) or cannot use it",
                    restart.saying(f"wait for the proxy's next health check, or {restart}")))
            return Walked(route, Finding("note", f"{shown}: {' -> '.join(hops)}: {app} answers {answer.status}"),
                          answered=True)
        if answer is not None and answer.status == 404 and answer.text.lstrip().lower().startswith("invalid hostname"):
            return Walked(route, Finding(
                "fail", f"{at} answers 404 {answer.excerpt(80)!r} for Host {route.host_header}: its site address "
                        "does not match",
                f"add {route.host_header} to the proxy's host matchers (Caddyfile), then "
                f"{fixes.restart(target, 'proxy')}"))
        if answer is not None and answer.status not in GATEWAY:
            return Walked(route, Finding(
                "warn", f"{shown}: {at} answers {answer.status} without X-Care2-Origin, so which app answered "
                        "cannot be told"))
        refused = unanswered is not None and unanswered.kind == "refused"
        if answer is not None:
            said = f"answers {answer.status}" + (f" {answer.excerpt(60)!r}" if answer.body else "")
        else:
            said = REFUSED if refused else f"gives no answer ({unanswered.reason})"
        upstream, why = (None, "") if refused else caddy.proxy_upstream(port, route.host_header)
        if answer is None and upstream is None:
            why = ""  # silent, and no proxy with an upstream to blame: the path ends at this hop
        if upstream is None:
            return Walked(route, _unanswered(target, route, shown, (who, where), said, before, port, why))
        before = f"{at} {said}"
        host, _, upstream_port = upstream.rpartition(":")
        if not is_loopback(host.strip("[]") or "127.0.0.1"):
            return Walked(route, Finding("warn", f"{before} for {shown}: its upstream {upstream} is not on this "
                                                 "host's loopback, not asked"))
        port = int(upstream_port)
        url = url_for(host.strip("[]") or "127.0.0.1", port, path)
    return Walked(route, Finding("fail", f"{shown}: more than {MAX_HOPS} hops in a row: {' -> '.join(hops)}"))


def _unanswered(target: Target, route: Route, shown: str, hop: tuple[str, str], said: str, before: str, port: int,
                why: str) -> Finding:
    """The finding where the path ends at a hop that gives no usable answer and has no upstream to follow."""
    who, where = hop
    if why:  # a gateway's answer, and the proxy's config does not name its upstream
        return Finding("fail", f"{who} on {where} {said} for {shown}; its upstream cannot be named ({why})",
                       f"check the proxy's upstream for {route.host_header}, and that it runs")
    role = role_of(target, route.hostname)
    holder = role_at(target, port)
    start = f"start {ROLES.get(holder, 'the proxy')}: {fixes.restart(target, holder)}" if holder else ""
    if not before:
        return Finding("fail", f"{shown}: {route.via} dials {where}, and {who} there {said}",
                       start or f"start what should listen there, or point {route.via} at the right port")
    if not role or holder == role:
        state = "" if holder not in ROLES else (
            f"; {who} is down or on another port" if said == REFUSED else f"; {who} hangs or is too slow")
        return Finding("fail", f"{before} for {shown}: its upstream {where} {said}{state}", start)
    return Finding("fail", f"{before} for {shown}: its upstream {where} {said}; {ROLES[role]} is configured on "
                           f"port {target.service_port(role)}",
                   f"point the proxy's route for {route.host_header} at port {target.service_port(role)} (Caddyfile), "
                   f"then {fixes.restart(target, 'proxy')}")


# --- the judgement ---------------------------------------------------------------------------------------------------


class LocalPath(NamedTuple):
    """The path on this host: every route walked, and the notes of routes() on the rules not walked."""

    walked: list[Walked]
    notes: list[Finding]


def walk_all(target: Target, http: Client) -> LocalPath:
    """Every route walked, at once (a hung hop costs one wait, not one per route); the notes of routes() too."""
    found, notes = routes(target)
    with ThreadPoolExecutor(max_workers=max(1, len(found))) as pool:
        walked = list(pool.map(lambda route: walk(target, http, route), found))
    return LocalPath(walked, notes)


def judge(local_path: LocalPath) -> list[Finding]:
    if not local_path.walked and not local_path.notes:
        return [Finding("warn", "not checked: no tunnel config (tunnel.config, or a running cloudflared's --config) "
                                "and no proxy (ports.proxy) on this host",
                        "set tunnel.config to the tunnel's config.yml")]
    return [*local_path.notes, *(item.finding for item in local_path.walked)]


def behind(target: Target, walked: list[Walked], url: str) -> str:
    """For an error page at ``url`` (the site's or the API's): the local hop that fails on the path of its public
    host name, that every local hop answers (only when the app at its end was seen to answer), or what could not be
    checked on this host; "" when that path was not walked."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    hostname = {target.site_origin: target.hostnames.site, target.api_origin: target.hostnames.api}.get(origin, "")
    mine = [item for item in walked if item.route.hostname == hostname]
    broken = [item for item in mine if item.broken]
    if broken:
        return f"on this host, {broken[0].finding.what}"
    unchecked = [item for item in mine if not item.answered]
    if unchecked:
        return (f"on this host the path for {hostname} could not be followed to the app ({unchecked[0].finding.what}), "
                "so whether a local hop fails is not known")
    if mine:
        return (f"on this host every hop for {hostname} answers ({mine[0].finding.what}): the fault lies between "
                "Cloudflare and this host (the tunnel's edge connections, DNS, the Cloudflare account)")
    return ""
