"""What a page did on the network while a person used it: requests, answers, failures, console errors.

Attach to a Playwright page before the walk; afterwards the walk's failure message can name the
request behind what the page showed.

>>> traffic = Traffic.attach(page)                                         # doctest: +SKIP
>>> traffic.last_answered("/api/story/start").describe()                 # doctest: +SKIP
'POST http://localhost:3001/api/story/start -> 500: {"error":"..."}'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Exchange:
    method: str
    url: str
    status: int | None = None  # None: no answer (refused, CORS, aborted)
    failure: str = ""
    response: object = field(default=None, repr=False)
    _body: str | None = field(default=None, repr=False)

    @property
    def body(self) -> str:
        """The answer's text: kept as the request finishes (Chromium may not keep it for long), else read now."""
        self.keep_body()
        return self._body

    def keep_body(self) -> None:
        if self._body is None:
            try:
                self._body = self.response.text() if self.response is not None else ""
            except Exception:  # evicted after a navigation, or a redirect: the status still tells the story
                self._body = ""

    def describe(self) -> str:
        outcome = f"-> {self.status}" if self.status is not None else f"-> no answer ({self.failure or 'pending'})"
        excerpt = " ".join(self.body.split())[:200]
        return f"{self.method} {self.url} {outcome}" + (f": {excerpt}" if excerpt else "")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass
class Traffic:
    exchanges: list[Exchange] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    document_headers: dict[str, str] = field(default_factory=dict)  # of the last page the browser loaded

    @classmethod
    def attach(cls, page) -> Traffic:
        traffic = cls()
        pending: dict[int, Exchange] = {}

        def on_request(request) -> None:
            exchange = Exchange(request.method, request.url)
            pending[id(request)] = exchange
            traffic.exchanges.append(exchange)

        def on_response(response) -> None:
            exchange = pending.get(id(response.request))
            if exchange is None:
                return
            exchange.status = response.status
            if response.request.resource_type == "document":
                traffic.document_headers = dict(response.headers)
            elif response.request.resource_type in ("fetch", "xhr"):
                exchange.response = response

        def on_finished(request) -> None:
            exchange = pending.get(id(request))
            if exchange is not None and exchange.response is not None:
                exchange.keep_body()  # the sync API runs this handler in its own greenlet, where it may block

        def on_failed(request) -> None:
            exchange = pending.get(id(request))
            if exchange is not None:
                exchange.failure = request.failure or "failed"

        def on_console(message) -> None:
            if message.type == "error":
                traffic.console_errors.append(message.text)

        page.on("request", on_request)
        page.on("response", on_response)
        page.on("requestfinished", on_finished)
        page.on("requestfailed", on_failed)
        page.on("console", on_console)
        page.on("pageerror", lambda error: traffic.console_errors.append(f"page error: {error}"))
        return traffic

    def reset(self) -> None:
        """Forget what was seen: the walk starts again on this page."""
        self.exchanges.clear()
        self.console_errors.clear()
        self.document_headers = {}

    def calls(self, path_part: str) -> list[Exchange]:
        return [exchange for exchange in self.exchanges if path_part in urlsplit(exchange.url).path]

    def last_answered(self, path_part: str) -> Exchange | None:
        """The latest request to ``path_part`` that got an answer: a poll still in flight has none yet."""
        answered = [exchange for exchange in self.calls(path_part) if exchange.status is not None]
        return answered[-1] if answered else None

    def failed(self) -> list[Exchange]:
        """Requests with no answer, or with a 4xx/5xx answer."""
        return [e for e in self.exchanges if e.status is None and e.failure or (e.status or 0) >= 400]
