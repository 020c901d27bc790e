"""Reading pages: what a person would see in them, and whether they are an error page.

Error pages are recognised by status, headers and page structure (Cloudflare's
``#cf-error-details``), never by looking for "502" anywhere in a body: chunk hashes contain digits.

>>> page = Page.parse("<title>Hi</title><h1>Welcome</h1><script src='/_next/static/a.js'></script>")
>>> page.title, page.h1, page.assets
('Hi', ['Welcome'], ['/_next/static/a.js'])
>>> Page.parse('<h1>Welcome to<br/><span class="x">Care</span>Connect</h1>').h1   # what a person reads
['Welcome to CareConnect']
>>> same_words("Welcome to CareConnect", "welcome  to   CareConnect")
True
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import re
import sys
import types
from dataclasses import dataclass, field
from urllib.parse import urljoin

from .findings import made_at
from .http import Answer


class _LoadedOnFirstUse(types.ModuleType):
    """Stands in sys.modules for a module until one of its names is first asked for, then loads the module, which
    takes its place there, and answers from it. importlib's LazyLoader cannot serve here: on Python 3.11 an
    ``import`` of a module already in sys.modules reads its ``__spec__``, which loads it at once."""

    def __getattr__(self, name: str):  # only for names the stand-in lacks: all but the module's own
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)

    @classmethod
    def stand_in(cls, name: str) -> None:
        """Put a stand-in for ``name`` in sys.modules, unless it is loaded already or not installed."""
        if name not in sys.modules and importlib.util.find_spec(name) is not None:
            sys.modules[name] = cls(name)


# Beautiful Soup imports Soup Sieve for its CSS selectors, whose patterns take a twentieth of a second to compile at
# every start. The suite finds elements by name and attribute, never by selector; loaded on first use, Soup Sieve
# still serves a .select() elsewhere in the same process (a project's conftest.py) as it would have.
_LoadedOnFirstUse.stand_in("soupsieve")
from bs4 import BeautifulSoup, Comment, NavigableString, Tag  # noqa: E402

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

# Elements that break a line where they start and end; inline ones (span, strong, a...) join their words.
BLOCKS = frozenset(
    "address article aside blockquote br dd div dl dt fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table tbody td tfoot th thead tr ul".split()
)
UNSEEN = frozenset({"script", "style", "template", "noscript"})


def seen_text(element) -> str:
    """The text of an element as a person reads it (like innerText): markup inside a word does not split it,
    a line break or a block does, and whitespace is one blank."""
    parts: list[str] = []

    def walk(node) -> None:
        for child in node.children:
            if isinstance(child, Comment):
                continue
            if isinstance(child, NavigableString):
                parts.append(str(child))
            elif isinstance(child, Tag) and child.name not in UNSEEN:
                block = child.name in BLOCKS
                parts.append(" " if block else "")
                walk(child)
                parts.append(" " if block else "")

    walk(element)
    return " ".join("".join(parts).split())


def same_words(expected: str, seen: str) -> bool:
    """The same words in the same order, whatever the whitespace, markup or letter case between them."""
    return expected.casefold().split() == seen.casefold().split()


def words_pattern(text: str) -> re.Pattern:
    """A pattern for a whole text with these words in this order, any whitespace between them, any case."""
    return re.compile(r"^\s*" + r"\s+".join(re.escape(word) for word in text.split()) + r"\s*$", re.IGNORECASE)


@functools.lru_cache(maxsize=4)
def _parsed(html: str) -> BeautifulSoup:
    """A page's text parsed once: a check reads a page, then asks whether it is an error page, and the next check
    reads it again (the tree is only read, never changed)."""
    return BeautifulSoup(html, "html.parser")


@dataclass
class Page:
    """The parts of an HTML page the checks look at."""

    soup: BeautifulSoup

    @classmethod
    def parse(cls, html: str) -> Page:
        return cls(_parsed(html))

    @property
    def title(self) -> str:
        return self.soup.title.get_text(strip=True) if self.soup.title else ""

    @property
    def h1(self) -> list[str]:
        return [seen_text(h) for h in self.soup.find_all("h1")]

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
        return next((b for b in self.soup.find_all("button") if same_words(text, seen_text(b))), None)

    def has_h1(self, text: str) -> bool:
        return any(same_words(text, heading) for heading in self.h1)

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
    judged_at: str = field(default_factory=made_at, compare=False, repr=False)  # the code that told it (Finding's)

    @property
    def on_the_way(self) -> bool:
        """The answer of a hop before the app (Cloudflare's 502/530/1033, a proxy's 502-504 or unknown host), not the
        app's own."""
        return self.kind in ("cloudflare", "proxy", "invalid-hostname")

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
        labelled = details.find(class_="cf-error-code")
        text = labelled.get_text(strip=True) if labelled else details.get_text(" ", strip=True)
        match = re.search(r"(?:Error(?:\s+code)?\s+)?(\d{3,4})", text) if labelled else re.search(
            r"Error(?:\s+code)?\s+(\d{3,4})", text)
        code = match.group(1) if match else ""
    code = code or str(answer.status)
    headline = page.title.split("|", 1)[-1].strip() if page is not None and page.title else ""
    source = page.soup.find(class_="cf-error-source") if page else None
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
