"""Scrubbing secrets before they reach the report, the JUnit file, the terminal or a kept trace.

What is a secret: every value the environment lists in ``secrets``, the value of any process
variable whose name says it is one (``*TOKEN*``, ``*PASSWORD*``, ...), and by shape wherever it
appears: ``Authorization``/``Cookie``/``Set-Cookie``/API-key header values, ``Bearer``/``Basic``
credentials, ``password=``/``token:``-style pairs, JWTs and the password in ``scheme://user:pass@``.

>>> redactor = Redactor(["hunter2"], environ={})
>>> redactor.text("login hunter2 with Authorization: Bearer abc.def.ghi")
'login [redacted] with Authorization: [redacted]'
>>> redactor.text("postgres://care2:pw@localhost/db")
'postgres://care2:[redacted]@localhost/db'
>>> redactor.text("cloudflared tunnel run --token eyJhIjoiYWJjIn0=")
'cloudflared tunnel run --token [redacted]'
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

MASK = "[redacted]"

COOKIE_HEADERS = ("cookie", "set-cookie")
SECRET_HEADERS = ("authorization", "proxy-authorization", *COOKIE_HEADERS, "x-api-key", "api-key", "x-auth-token",
                  "x-csrf-token", "x-xsrf-token")
SECRET_KEYS = ("password", "passwd", "pwd", "secret", "client_secret", "token", "access_token", "refresh_token",
               "id_token", "api_key", "apikey", "sessionid", "session_id", "connect.sid", "private_key")
# A process variable named like this holds a secret; its value is scrubbed wherever it shows up.
SECRET_VARIABLE = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_KEY|COOKIE|CREDENTIAL|AUTH", re.I)
MIN_VARIABLE_SECRET = 6  # shorter values ("1", "true") would blank out half the report


def _named(names: tuple[str, ...], value: str) -> re.Pattern:
    """``name``, then ``: `` / ``=`` / ``': '`` / ``"="``, then the value matched by ``value``."""
    alternatives = "|".join(re.escape(name) for name in names)
    return re.compile(rf"(?i)(?<![\w-])({alternatives})(['\"]?\s*[:=]\s*['\"]?)({value})")


_COOKIES = _named(COOKIE_HEADERS, r"[^\r\n'\"]+")  # "a=1; b=2": to the end of the line or the quote
_HEADER = _named(tuple(name for name in SECRET_HEADERS if name not in COOKIE_HEADERS), r"[^\r\n'\";,&]+")
_PAIR = _named(SECRET_KEYS, r"[^\s'\"&;,}]+")  # a key's value stops where a query string or JSON goes on
_BEARER = re.compile(r"(?i)\b(bearer)\s+([\w.~+/=-]{8,})")
_BASIC = re.compile(r"\b(Basic)\s+((?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2})")  # base64, not prose
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)([^/\s@]+)@")
_JWT = re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]{4,}")
# a command line's secret flag and its value as the next word: `cloudflared tunnel run --token eyJhIjoi...`
_FLAG = re.compile(r"(?i)(--?[\w-]*(?:token|secret|password|passwd|api-?key)\s+)(?!-)(\S+)")


class Redactor:
    """Replaces secrets in text, in nested report data, in files and in Playwright traces."""

    def __init__(self, secrets: Iterable[str] = (), environ: Mapping[str, str] | None = None):
        environ = os.environ if environ is None else environ
        found = {value for value in secrets if value}
        found |= {value for name, value in environ.items()
                  if SECRET_VARIABLE.search(name) and len(value) >= MIN_VARIABLE_SECRET}
        self.literals = sorted(found, key=len, reverse=True)  # longest first: a secret inside another
        self._literal = re.compile("|".join(re.escape(value) for value in self.literals)) if self.literals else None

    def text(self, text: str) -> str:
        if self._literal is not None:
            text = self._literal.sub(MASK, text)
        text = _URL_PASSWORD.sub(rf"\1{MASK}@", text)
        for named in (_COOKIES, _HEADER, _PAIR):
            text = named.sub(lambda found: found.group(1) + found.group(2) + MASK, text)
        for credentials in (_BEARER, _BASIC):
            text = credentials.sub(rf"\1 {MASK}", text)
        text = _FLAG.sub(rf"\1{MASK}", text)
        return _JWT.sub(MASK, text)

    def scrub(self, value, _seen: set[int] | None = None):
        """``value`` with every string in it redacted.

        Strings, tuples, lists and dicts come back as new values; dataclass instances (pytest's
        failure representations) are changed in place, so a report keeps its type. Other objects
        are returned as they are: the caller turns them into text first.
        """
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, (bytes, int, float, bool)):
            return value
        seen = set() if _seen is None else _seen
        if id(value) in seen:
            return value
        seen.add(id(value))
        if isinstance(value, tuple):
            return tuple(self.scrub(item, seen) for item in value)
        if isinstance(value, list):
            return [self.scrub(item, seen) for item in value]
        if isinstance(value, dict):
            return {key: self.scrub(item, seen) for key, item in value.items()}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for each in dataclasses.fields(value):
                setattr(value, each.name, self.scrub(getattr(value, each.name), seen))
        return value

    def escaped_forms(self, literal: str) -> set[str]:
        """How a literal secret can appear in an HTML page or a JSON blob inside one."""
        from markupsafe import escape  # Jinja2's escaping (pytest-html's and the report's templates); only here

        in_json = json.dumps(literal)[1:-1]
        return {form for text in (literal, in_json) for form in (text, html.escape(text), str(escape(text)))}

    def file(self, path: Path) -> None:
        """Last line of defence for a written HTML/XML file: no listed secret, in any escaped form."""
        original = path.read_text(encoding="utf-8")
        text = original
        for literal in self.literals:
            for form in sorted(self.escaped_forms(literal), key=len, reverse=True):
                text = text.replace(form, MASK)
        if text != original:
            path.write_text(text, encoding="utf-8")

    def trace(self, path: Path) -> None:
        """Rewrite a Playwright trace (a zip) without secrets: headers, cookies, bodies, typed text."""
        with zipfile.ZipFile(path) as source:
            members = [(info, source.read(info)) for info in source.infolist()]
        handle, temporary = tempfile.mkstemp(suffix=".zip", dir=path.parent)
        os.close(handle)
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as target:
            for info, data in members:
                target.writestr(info, self._trace_member(info.filename, data))
        os.replace(temporary, path)

    def _trace_member(self, name: str, data: bytes) -> bytes:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return data  # images, fonts, compressed bodies: no text to scrub (sources, pages, JSON are text)
        if name.endswith((".trace", ".network")):
            return "\n".join(self._trace_line(line) for line in text.split("\n")).encode("utf-8")
        return self.text(text).encode("utf-8")

    def _trace_line(self, line: str) -> str:
        """One JSON event: header and cookie values by name, then every string by shape and value."""
        try:
            event = json.loads(line)
        except ValueError:
            return self.text(line)
        return json.dumps(self.scrub(_mask_named_values(event)), ensure_ascii=False, separators=(",", ":"))


def _mask_named_values(value):
    """``{"name": "Authorization", "value": ...}`` pairs (HAR headers, cookies) lose their value."""
    if isinstance(value, list):
        return [_mask_named_values(item) for item in value]
    if not isinstance(value, dict):
        return value
    masked = {key: _mask_named_values(item) for key, item in value.items()}
    name = str(masked.get("name", "")).lower()
    if "value" in masked and (name in SECRET_HEADERS or name in SECRET_KEYS):
        masked["value"] = MASK
    if "cookies" in masked and isinstance(masked["cookies"], list):
        masked["cookies"] = [{**cookie, "value": MASK} if isinstance(cookie, dict) else cookie
                             for cookie in masked["cookies"]]
    return masked
