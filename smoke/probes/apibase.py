"""Which API the Tell Your Story page calls from a given site, read from its code without a browser.

Care2's page holds several API bases and picks one by the host name it is served from
(``if("localhost"===e||"127.0.0.1"===e)return"http://localhost:3003"; ... return"http://localhost:3001/api"``).
That the configured API is among them proves nothing: what counts is the one picked for this site.

>>> code = 'if("localhost"===e||"127.0.0.1"===e)return"http://localhost:3003";return"http://localhost:3001/api"'
>>> [(base.origin, base.hosts) for base in api_bases(code, "http://localhost:3000")]
[('http://localhost:3003', ('localhost', '127.0.0.1')), ('http://localhost:3001', ())]
>>> [base.origin for base in used_from(api_bases(code, "http://localhost:3000"), "http://localhost:3000")]
['http://localhost:3003']
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..target import Target
from . import fixes
from .findings import Finding
from .http import Client, NoAnswer, is_loopback

ABSOLUTE_ORIGIN = re.compile(r"""https?://(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?""")
# `if(<condition>)return"<base>"` (minified) or `if (<condition>) { return "<base>"` (as written)
HOST_CHOICE = re.compile(r"""if\s*\(([^(){};]*)\)\s*\{?\s*return\s*(["'`])(https?://[^"'`\s]*)\2""")
QUOTED = re.compile(r"""(["'`])([^"'`\s]{1,253})\1""")
HOST_LITERAL = re.compile(r"^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)(?::\d{1,5})?$")


@dataclass(frozen=True)
class ApiBase:
    """An API origin named in the page's code, and the page hosts its code picks it for (() = no condition)."""

    origin: str
    hosts: tuple[str, ...] = ()

    @property
    def loopback(self) -> bool:
        return is_loopback(urlsplit(self.origin).hostname or "")

    def picked_for(self, site_url: str) -> bool:
        site = urlsplit(site_url)
        return bool({site.hostname, site.netloc} & set(self.hosts))

    def describe(self) -> str:
        return self.origin + (f" (picked when the page is served from {' or '.join(self.hosts)})" if self.hosts else "")


def api_bases(script: str, site_url: str) -> list[ApiBase]:
    """API origins the script names that belong to the site's family, the site itself excepted, in code order.

    The family is loopback for a loopback site, else loopback names (a visitor can never reach them) and
    host names close to the site's own (``api.care2connect.org`` is close to ``care2connects.org``).
    """
    site = urlsplit(site_url)
    conditions = {match.start(3): _hosts_in(match.group(1)) for match in HOST_CHOICE.finditer(script)}
    found: dict[str, ApiBase] = {}
    for match in ABSOLUTE_ORIGIN.finditer(script):
        origin = match.group(0).lower()
        host = urlsplit(origin).hostname or ""
        if origin == f"{site.scheme}://{site.netloc}".lower() or not _in_family(host, site.hostname or ""):
            continue
        hosts = conditions.get(match.start(), ())
        known = found.get(origin)
        # a base named both with and without a condition is a fallback too
        found[origin] = ApiBase(origin, () if known is not None and not (known.hosts and hosts) else
                                tuple(dict.fromkeys((*(known.hosts if known else ()), *hosts))))
    return list(found.values())


def used_from(bases: list[ApiBase], site_url: str) -> list[ApiBase]:
    """The bases the page would call when served from ``site_url``: those its code picks for this host, else
    those it uses with no condition (when the code picks by other hosts only, every unconditioned base)."""
    picked = [base for base in bases if base.picked_for(site_url)]
    return picked or [base for base in bases if not base.hosts]


@dataclass(frozen=True)
class BaseAnswer:
    """How an API base answered the backend's liveness path."""

    base: ApiBase
    backend: bool  # it answered as the Care2 backend (X-Care2-Origin: backend)
    said: str  # "connection refused", "answers without X-Care2-Origin (GET ... -> 200 text/html)"


def ask(http: Client, base: ApiBase, live_path: str) -> BaseAnswer:
    """Asked once, without the retry of a refused or reset connection: the base is not the configured API, so the
    page sends the story elsewhere whatever the answer; a retry could at most make that a warning, after the retry
    delay on every run where the base is down (the real app's :3003)."""
    url = base.origin + live_path
    try:
        answer = http.get(url, retry=False)
    except NoAnswer as failure:
        return BaseAnswer(base, False, f"no answer from {url}: {failure.reason}")
    origin = answer.header("x-care2-origin")
    backend = origin == "backend"
    said = f"GET {url} -> {answer.status}" + (
        "" if backend else f", {'X-Care2-Origin ' + repr(origin) if origin else 'no X-Care2-Origin'}: "
        "another program, not the Care2 backend")
    return BaseAnswer(base, backend, said)


def _same_api(origin: str, api_url: str) -> bool:
    """The same origin, or the same port under two loopback names (localhost and 127.0.0.1 are one machine)."""
    a, b = urlsplit(origin), urlsplit(api_url)
    if is_loopback(a.hostname or "") and is_loopback(b.hostname or ""):
        return (a.scheme, a.port) == (b.scheme, b.port)
    return (a.scheme, a.hostname, a.port) == (b.scheme, (b.hostname or "").lower(), b.port)


def _hosts_in(condition: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(
        text.lower() for _, text in QUOTED.findall(condition) if HOST_LITERAL.match(text) and not text.isdigit()
    ))


def _in_family(host: str, site_host: str) -> bool:
    if is_loopback(host):
        return True
    if is_loopback(site_host):
        return False
    return difflib.SequenceMatcher(None, _registrable(host), _registrable(site_host)).ratio() >= 0.85


def _registrable(host: str) -> str:
    return ".".join(host.split(".")[-2:])


def judge(target: Target, http: Client, bases: list[ApiBase]) -> list[Finding]:
    """Every base the page would call from the site must be the configured API, or at least answer as the
    backend; a loopback base in a page served to visitors from elsewhere is unreachable for them."""
    site_url, api_url = target.site_url, target.api_url
    site = urlsplit(site_url)
    used = used_from(bases, site_url)
    findings = []
    for base in bases:
        if _same_api(base.origin, api_url):
            continue
        if base not in used:
            findings.append(Finding("note", f"{base.describe()} is not used from {site.netloc}"))
        elif base.loopback and not is_loopback(site.hostname or ""):
            severity = "fail" if base.picked_for(site_url) else "warn"
            findings.append(Finding(severity, f"the Tell Your Story page served from {site.netloc} may call "
                                    f"{base.describe()}, which a visitor's browser looks for on the visitor's own "
                                    f"machine", fixes.api_base(api_url, base.origin)))
        else:
            answer = ask(http, base, target.paths.api_live)
            if answer.backend:
                findings.append(Finding("warn", f"the Tell Your Story page served from {site.netloc} calls "
                                        f"{base.describe()}, a Care2 backend other than the configured API "
                                        f"{api_url} ({answer.said})", fixes.api_base(api_url, base.origin)))
            else:
                findings.append(Finding("fail", f"the Tell Your Story page served from {site.netloc} sends the "
                                        f"story to {base.describe()}, not to the configured API {api_url}: "
                                        f"{answer.said}", fixes.api_base(api_url, base.origin)))
    return findings
