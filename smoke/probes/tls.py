"""The certificate an https origin presents: does it verify, and for how many more days.

Only the TLS handshake happens; no HTTP request is sent.

>>> certificate = read_certificate("https://care2connects.org", timeout=3)   # doctest: +SKIP
>>> certificate.problem, round(certificate.days_left())                    # doctest: +SKIP
('', 61)
>>> certificate.describe()                                                  # doctest: +SKIP
'care2connects.org:443 certificate valid until 2027-01-27 (61 days), issued by ...'
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import certifi

from .http import NoAnswer


@dataclass(frozen=True)
class Certificate:
    host: str
    port: int
    problem: str  # why it does not verify (expired, wrong name, unknown CA); "" when it does
    not_after: datetime | None = None  # known only for a certificate that verifies
    issuer: str = ""

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def days_left(self, now: datetime | None = None) -> float | None:
        if self.not_after is None:
            return None
        return (self.not_after - (now or datetime.now(UTC))).total_seconds() / 86400

    def describe(self, now: datetime | None = None) -> str:
        if self.problem:
            return f"{self.where} certificate does not verify: {self.problem}"
        issuer = f", issued by {self.issuer}" if self.issuer else ""
        return (f"{self.where} certificate valid until {self.not_after:%Y-%m-%d %H:%M} UTC "
                f"({self.days_left(now):.0f} days){issuer}")


def trust(ca_file: str = "") -> ssl.SSLContext:
    """The public CAs the HTTP client trusts (certifi's), plus those in ``ca_file`` (a stage's own CA)."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def read_certificate(url: str, timeout: float, ca_file: str = "") -> Certificate:
    """The certificate of ``url``'s origin; ``NoAnswer`` when no TLS handshake completes at all."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 443
    start = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with trust(ca_file).wrap_socket(raw, server_hostname=host) as tls:
                seen = tls.getpeercert()
    except ssl.SSLCertVerificationError as error:
        return Certificate(host, port, error.verify_message or str(error))
    except (OSError, ssl.SSLError) as error:
        raise NoAnswer("TLS", f"{parts.scheme}://{parts.netloc}", _reason(error, timeout),
                       time.perf_counter() - start, kind=_kind(error)) from None
    not_after = datetime.fromtimestamp(ssl.cert_time_to_seconds(seen["notAfter"]), UTC)
    return Certificate(host, port, "", not_after, _name(seen.get("issuer", ())))


def _name(rdns) -> str:
    """``O=..., CN=...`` of an issuer as ``getpeercert()`` returns it (a tuple of RDN tuples)."""
    fields = dict(pair for rdn in rdns for pair in rdn)
    return ", ".join(fields[key] for key in ("organizationName", "commonName") if key in fields)


def _kind(error: Exception) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, socket.timeout):
        return "timeout"
    if isinstance(error, socket.gaierror):
        return "dns"
    if isinstance(error, ssl.SSLError):
        return "tls"
    return "network"


def _reason(error: Exception, timeout: float) -> str:
    return {
        "refused": "connection refused (nothing listening)",
        "timeout": f"no TLS handshake within {timeout:g} s",
        "dns": f"host name does not resolve ({error})",
        "tls": f"TLS handshake failed: {error}",
    }.get(_kind(error), str(error) or type(error).__name__)
