"""What a page did on the network while a person used it: requests, answers, failures, console errors.

Attach to a Playwright page before the walk; afterwards the walk's failure message can name the
request behind what the page showed.

>>> traffic = Traffic.attach(page)                                         # doctest: +SKIP
>>> traffic.last_answered("/api/story/start").describe()                 # doctest: +SKIP
'POST http://localhost:3001/api/story/start -> 500: {"error":"..."}'
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError


@dataclass
class Exchange:
    method: str
    url: str
    status: int | None = None  # None: no answer (refused, CORS, aborted)
    failure: str = ""
    response: object = field(default=None, repr=False)  # Playwright's, for an API call: its body is read when asked
    _body: str | None = field(default=None, repr=False)  # None: not read (a page or a file: only the status counts)
    unreadable: str = ""  # why the browser could not give the body
    finished: bool = False  # the whole answer has arrived (Playwright's "requestfinished")

    @property
    def body(self) -> str:
        """The answer's text: the one the walk fetched itself (a work-around), else what the browser still holds.

        The walk stops the page's loading as soon as a step fails; Chromium then drops an answer the walk handed
        it (route.fulfill) that the page never read, and one still arriving: the walk's own is never read back,
        an error the browser holds is read before (Traffic.keep_error_bodies)."""
        self.keep_body()
        return self._body or ""

    def keep_body(self) -> None:
        """Read the browser's answer into this exchange, once."""
        if self._body is None and self.response is not None:
            try:
                self._body = self.response.text()
            except PlaywrightError as error:
                self._body, self.unreadable = "", str(error).splitlines()[0].removeprefix("Response.text: ")

    def describe(self) -> str:
        said = f"{self.method} {self.url}"
        if self.status is None:
            return f"{said} -> no answer ({self.failure or 'pending'})"
        said += f" -> {self.status}"
        if excerpt := " ".join(self.body.split())[:200]:
            return f"{said}: {excerpt}"
        if self.unreadable:
            return f"{said} (its body was gone from the browser when the suite read it: {self.unreadable})"
        return said + (" (empty body)" if self._body is not None else "")

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

    _by_request: dict[object, Exchange] = field(default_factory=dict, repr=False)  # Playwright's request -> its own

    @classmethod
    def attach(cls, page) -> Traffic:
        traffic = cls()

        def on_request(request) -> None:
            traffic._by_request[request] = exchange = Exchange(request.method, request.url)
            traffic.exchanges.append(exchange)

        def on_response(response) -> None:
            exchange = traffic._by_request.get(response.request)
            if exchange is None:
                return
            exchange.status = response.status
            if response.request.resource_type == "document":
                traffic.document_headers = dict(response.headers)
            elif response.request.resource_type in ("fetch", "xhr"):
                exchange.response = response

        def on_failed(request) -> None:
            exchange = traffic._by_request.get(request)
            if exchange is not None:
                exchange.failure = request.failure or "failed"

        def on_finished(request) -> None:
            exchange = traffic._by_request.get(request)
            if exchange is not None:
                exchange.finished = True

        def on_console(message) -> None:
            if message.type == "error":
                traffic.console_errors.append(message.text)

        page.on("request", on_request)
        page.on("response", on_response)
        page.on("requestfailed", on_failed)
        page.on("requestfinished", on_finished)
        page.on("console", on_console)
        page.on("pageerror", lambda error: traffic.console_errors.append(f"page error: {error}"))
        return traffic

    def fetched(self, request, body: bytes) -> None:
        """The walk fetched this request's answer itself and hands it to the page: this is its body (the page's
        "request" event came first: Playwright sends it before it routes the request)."""
        if exchange := self._by_request.get(request):
            exchange._body = body.decode("utf-8", errors="replace")

    def keep_error_bodies(self, page, seconds: float = 1.0) -> None:
        """Read now the body of every API answer that says an error (4xx, 5xx), before the walk stops the page's
        loading: Chromium then drops an answer the page never read. One still arriving is waited for, ``seconds`` at
        most in all: a body that never ends holds the walk no longer."""
        deadline = time.monotonic() + seconds
        for exchange in self.exchanges:
            if exchange.response is None or (exchange.status or 0) < 400:
                continue
            left, request = deadline - time.monotonic(), exchange.response.request
            if not exchange.finished and left > 0:
                try:
                    page.wait_for_event("requestfinished", lambda finished, asked=request: finished is asked,
                                        timeout=left * 1000)
                except PlaywrightError:  # still arriving when the time was up, or the page is gone
                    continue
            if exchange.finished:
                exchange.keep_body()

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
