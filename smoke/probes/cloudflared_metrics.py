"""A cloudflared's metrics server: its /ready (is an edge connection up?) and its /metrics (how many, which version).

>>> Readiness.read(200, {"status": 200, "readyConnections": 4, "connectorId": "c0ffee"}).ready
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field

from .cloudflared import Cloudflared
from .http import Client, NoAnswer, is_loopback
from .ports import listeners
from .shapes import Body

METRICS_PORTS = range(20241, 20246)  # cloudflared's default: the first free port of these
# a JSON integer (not true/false, which Python counts as 1/0), else None
Count = Annotated[int | None, BeforeValidator(lambda value: value if type(value) is int else None)]


class Readiness(Body):
    """cloudflared's /ready: 200 with readyConnections >= 1 when an edge connection is up, else 503."""

    status: int  # the HTTP status it answered with
    ready_connections: Count = Field(None, alias="readyConnections")
    connector_id: Annotated[str, BeforeValidator(lambda value: str(value or ""))] = Field("", alias="connectorId")

    @classmethod
    def read(cls, status: int, body) -> Readiness:
        return cls.model_validate({**(body if isinstance(body, dict) else {}), "status": status})

    @property
    def ready(self) -> bool:
        return self.status == 200 and (self.ready_connections or 0) >= 1

    def describe(self) -> str:
        if self.ready_connections is None:
            return f"{self.status}, no readyConnections field"
        return f"{self.status}, readyConnections={self.ready_connections}"


def metric(text: str, name: str) -> float | None:
    """The value of a Prometheus sample ``name`` (the first series when it has labels)."""
    match = re.search(rf"^{re.escape(name)}(?:\{{[^}}]*\}})?\s+(\S+)", text, re.MULTILINE)
    try:
        return float(match.group(1)) if match else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Metrics:
    """What a cloudflared metrics server says."""

    base_url: str
    readiness: Readiness
    ha_connections: float | None  # cloudflared_tunnel_ha_connections; 4 when fully healthy
    version: str = ""


def metrics_urls(process: Cloudflared, *configured: str) -> tuple[list[str], list[str]]:
    """Where ``process``'s metrics server may be: (base URLs to try, addresses skipped as not loopback).

    The addresses it was given (--metrics, the config, the environments file) come first, then the
    loopback ports the process itself listens on; when those cannot be seen, 127.0.0.1:20241-20245.
    """
    urls, skipped = [], []
    for address in (process.command.metrics, *configured):
        if address:
            url = _loopback_url(address)
            (urls if url else skipped).append(url or address)
    own = [listener.url for listener in listeners() if listener.pid == process.pid]
    urls += own or [f"http://127.0.0.1:{port}" for port in METRICS_PORTS]
    return list(dict.fromkeys(urls)), skipped


def read_metrics(http: Client, base_url: str) -> Metrics | None:
    """The metrics at ``base_url``; ``None`` when what answers there is not a cloudflared metrics server."""
    try:
        ready = http.get(base_url + "/ready")
    except NoAnswer:
        return None
    body = ready.json()
    if ready.status not in (200, 503) or not isinstance(body, dict) or "readyConnections" not in body:
        return None
    try:
        text = http.get(base_url + "/metrics").text
    except NoAnswer:
        text = ""
    version = re.search(r'^(?:cloudflared_)?build_info\{[^}]*version="([^"]+)"', text, re.MULTILINE)
    return Metrics(
        base_url, Readiness.read(ready.status, body), metric(text, "cloudflared_tunnel_ha_connections"),
        version.group(1) if version else "",
    )


def find_metrics(http: Client, urls: Sequence[str]) -> Metrics | None:
    """The first of ``urls`` where a cloudflared metrics server answers."""
    for url in urls:
        found = read_metrics(http, url)
        if found is not None:
            return found
    return None


def _loopback_url(address: str) -> str | None:
    """``host:port`` as a base URL to dial, or ``None`` when it is not on this host's loopback."""
    try:
        parts = urlsplit(address if "//" in address else "//" + address)
        port = parts.port
    except ValueError:
        return None
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "localhost": "127.0.0.1", "::": "::1"}.get(
        parts.hostname or "", parts.hostname or ""
    )
    if not port or not is_loopback(host):
        return None
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
