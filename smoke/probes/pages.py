"""Reading pages: what a person would see in them, and whether they are an error page.

Error pages are recognised by status, headers and page structure (Cloudflare's
``#cf-error-details``), never by looking for "502" anywhere in a body: chunk hashes contain digits.

>>> page = Page.parse("<title>Hi</title><h1>Welcome</h1><script src='/_next/static/a.js'></script>")
>>> page.title, page.h1, page.assets
('Hi', ['Welcome'], ['/_next/static/a.js'])
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup

from .http import Answer
from .ports import is_loopback

# Statuses only Cloudflare itself sends (530 carries the 1xxx family: 1033, no tunnel connector).
# A 500-504 through Cloudflare is the edge's own page only with #cf-error-details: otherwise the
# origin said it (a /health/db 503 JSON passes through with `server: cloudflare` too).
EDGE_ONLY_STATUSES = range(520, 531)
# What a proxy says when the app behind it is down or hung; the app itself answers these in JSON.
GATEWAY_STATUSES = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}

EDGE_ERROR_FIXES = {
    "1033": "the tunnel has no healthy connector: check that cloudflared runs the named tunnel "
    "(pm2 logs care2connect-tunnel; cloudflared tunnel info <name>) and restart it",
    "502": "the tunnel is up but the origin refused: check the frontend/backend listens on the port the "
    "ingress names, and dial 127.0.0.1 rather than localhost in the tunnel ingress",
    "504": "the origin did not answer in time: check for a hung frontend/backend",
    "524": "the origin did not answer in time: check for a hung frontend/backend",
}


@dataclass
class Page:
    """The parts of an HTML page the checks look at."""

    soup: BeautifulSoup

    @classmethod
    def parse(cls, html: str) -> Page:
        return cls(BeautifulSoup(html, "html.parser"))

    @property
    def title(self) -> str:
        return self.soup.title.get_text(strip=True) if self.soup.title else ""

    @property
    def h1(self) -> list[str]:
        return [h.get_text(" ", strip=True) for h in self.soup.find_all("h1")]

    @property
    def assets(self) -> list[str]:
        """Scripts and stylesheets the page loads, in page order."""
        found = [tag.get("src") for tag in self.soup.find_all("script") if tag.get("src")]
        found += [
            tag.get("href")
            for tag in self.soup.find_all("link")
            if tag.get("href") and "stylesheet" in (tag.get("rel") or [])
        ]
        return found

    def links_to(self, href: str) -> list:
        return self.soup.find_all("a", href=href)

    def by_id(self, element_id: str):
        return self.soup.find(id=element_id)

    def button(self, text: str):
        return next((b for b in self.soup.find_all("button") if b.get_text(" ", strip=True) == text), None)

    def text(self) -> str:
        return self.soup.get_text(" ", strip=True)


@dataclass(frozen=True)
class ErrorPage:
    """An answer that is an error page of the edge or the proxy rather than the app."""

    kind: str  # "cloudflare", "invalid-hostname", "backend-welcome"
    code: str  # Cloudflare's error code (1033, 502...) or the HTTP status
    status: int
    summary: str
    ray: str = ""
    failing_hop: str = ""
    fix: str = ""

    def describe(self) -> str:
        parts = [self.summary, f"HTTP {self.status}"]
        if self.ray:
            parts.append(f"cf-ray {self.ray}")
        if self.failing_hop:
            parts.append(f"failing hop: {self.failing_hop}")
        return "; ".join(parts)


def classify(answer: Answer, backend_welcome_title: str = "") -> ErrorPage | None:
    """The error page ``answer`` is, or ``None`` when it is not one."""
    via_cloudflare = (answer.header("server") or "").lower() == "cloudflare" or answer.header("cf-ray") is not None
    is_html = answer.content_type in ("text/html", "")
    page = Page.parse(answer.text) if is_html else None
    edge_page = page is not None and page.by_id("cf-error-details") is not None
    if via_cloudflare and answer.status >= 500 and (edge_page or answer.status in EDGE_ONLY_STATUSES):
        return _cloudflare_error(answer, page)
    if answer.status in GATEWAY_STATUSES and answer.content_type != "application/json":
        return ErrorPage(
            "proxy", str(answer.status), answer.status,
            f"a proxy answered {answer.status} ({GATEWAY_STATUSES[answer.status]}) instead of the app",
            fix="the reverse proxy (Caddy) or the tunnel cannot reach the app behind it: check the app's port "
            "and the proxy's upstream address",
        )
    if answer.status == 404 and answer.text.lstrip().lower().startswith("invalid hostname"):
        return ErrorPage(
            "invalid-hostname", "404", 404, f"the reverse proxy does not know this host name: {answer.excerpt(80)!r}",
            fix="the Host header reached the proxy unrouted: check the proxy's site addresses and the tunnel ingress",
        )
    if backend_welcome_title and page is not None and page.title == backend_welcome_title:
        return ErrorPage(
            "backend-welcome", str(answer.status), answer.status,
            f"the backend's welcome page ({backend_welcome_title!r}) answered instead of the frontend",
            fix="the site host name is routed to the backend: fix the tunnel ingress / proxy route for the site",
        )
    return None


def _cloudflare_error(answer: Answer, page: Page | None) -> ErrorPage:
    details = page.by_id("cf-error-details") if page else None
    code = ""
    if details is not None:
        labelled = details.select_one(".cf-error-code")
        text = labelled.get_text(strip=True) if labelled else details.get_text(" ", strip=True)
        match = re.search(r"(?:Error(?:\s+code)?\s+)?(\d{3,4})", text) if labelled else re.search(
            r"Error(?:\s+code)?\s+(\d{3,4})", text)
        code = match.group(1) if match else ""
    code = code or str(answer.status)
    headline = page.title.split("|", 1)[-1].strip() if page is not None and page.title else ""
    source = page.soup.select_one(".cf-error-source") if page else None
    hop = _hop_name(source) if source is not None else ""
    ray = answer.header("cf-ray") or ""
    if not ray and page is not None:
        found = re.search(r"Ray ID:\s*([0-9a-f]{16})", page.text())
        ray = found.group(1) if found else ""
    summary = f"Cloudflare error {code}" + (f" ({headline})" if headline else "")
    fix = EDGE_ERROR_FIXES.get(code, "the edge got no answer from the origin: check the tunnel and the origin")
    return ErrorPage("cloudflare", code, answer.status, summary, ray=ray, failing_hop=hop, fix=fix)


def _hop_name(tile) -> str:
    """Cloudflare's tiles are ``#cf-browser-status``, ``#cf-cloudflare-status``, ``#cf-host-status``."""
    match = re.fullmatch(r"cf-(\w+)-status", tile.get("id") or "")
    if match:
        return match.group(1).capitalize()
    words = tile.get_text(" ", strip=True).split()
    return words[0] if words else ""


def absolute(base_url: str, reference: str) -> str:
    return urljoin(base_url + "/", reference)


def same_origin(url: str, other: str) -> bool:
    a, b = urlsplit(url), urlsplit(other)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


ABSOLUTE_ORIGIN = re.compile(r"""https?://(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?""")


def api_bases_in(script: str, site_url: str) -> set[str]:
    """Origins a page's script names that belong to the site's own family, the site itself excepted.

    The family is loopback for a loopback site, else host names close to the site's own
    (``api.care2connect.org`` is close to ``care2connects.org``: that typo broke a demo).
    """
    site = urlsplit(site_url)
    found = set()
    for match in ABSOLUTE_ORIGIN.finditer(script):
        origin = match.group(0)
        parts = urlsplit(origin)
        if parts.hostname and not same_origin(origin, site_url) and _same_family(parts.hostname, site.hostname or ""):
            found.add(origin)
    return found


def _same_family(host: str, site_host: str) -> bool:
    if is_loopback(site_host):
        return is_loopback(host)
    return difflib.SequenceMatcher(None, _registrable(host), _registrable(site_host)).ratio() >= 0.85


def _registrable(host: str) -> str:
    return ".".join(host.split(".")[-2:])
