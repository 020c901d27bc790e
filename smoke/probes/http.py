"""HTTP with timings, bounded waits and honest retries.

>>> client = Client(connect=3, read=5, retry_delay=0.3)
>>> answer = client.get("http://localhost:3001/health/live")   # doctest: +SKIP
>>> answer.status, answer.header("x-care2-origin"), answer.timings.first_byte_ms   # doctest: +SKIP
(200, 'backend', 3.1)

Only network-class failures (refused, reset, connect timeout) are retried, once, unless the caller
says a retry cannot change its finding (``retry=False``); an HTTP answer is never retried away,
whatever its status. A server that accepted and then said nothing is not retried either: waiting
twice for a hung server only doubles the time to the verdict.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from ..text import duration, one_line, size

FORBIDDEN_PATHS = ("/api/test", "/admin")  # one /api/test route shuts the real backend down
TEST_HEADER = {"x-c2c-test": "1"}  # marks the traffic as ours; exempt from the app's rate limit
USER_AGENT = "care2-predemo-smoke"
MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class Timings:
    """Milliseconds; ``None`` when the phase did not happen (reused connection, plain http)."""

    connect_ms: float | None = None
    tls_ms: float | None = None
    first_byte_ms: float | None = None
    total_ms: float = 0.0

    def describe(self) -> str:
        phases = [("connect", self.connect_ms), ("TLS", self.tls_ms), ("first byte", self.first_byte_ms)]
        shown = ", ".join(f"{name} {value:.0f} ms" for name, value in phases if value is not None)
        return f"{self.total_ms:.0f} ms" + (f" ({shown})" if shown else "")


@dataclass
class Answer:
    """What the server said. ``attempts`` > 1 means the first try failed at the network level."""

    method: str
    url: str
    status: int
    headers: httpx.Headers
    body: bytes
    timings: Timings
    attempts: int = 1
    # "" when the body arrived whole; else how far it had got when the caps cut it ("was still arriving
    # after 3 s and 5 MB"), and the body is dropped: a part of a page judged as the page would be a false finding
    unfinished: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def seconds(self) -> float:
        return self.timings.total_ms / 1000

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json(self):
        """The parsed body, or ``None`` when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def excerpt(self, limit: int = 160) -> str:
        return one_line(self.text, limit)

    def describe(self) -> str:
        cut = ", body cut off unfinished" if self.unfinished else ""
        return f"{self.method} {self.url} -> {self.status} in {self.timings.describe()}{cut}"

    def endless(self, what: str) -> str:
        """What a presenter is told of an unfinished body: ``what`` (e.g. "the home page") never ends."""
        return f"{what} answered {self.status}, then {self.unfinished}: it never ends (a proxy or the app is stuck " \
               "streaming)"


@dataclass
class NoAnswer(Exception):
    """The request got no HTTP answer at all."""

    method: str
    url: str
    reason: str  # "connection refused", "timed out after 5 s", "connection reset", ...
    seconds: float
    attempts: int = 1
    kind: str = field(default="network")  # refused | timeout | reset | dns | tls | network

    def __str__(self) -> str:
        tries = f", {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{self.method} {self.url}: {self.reason} ({self.seconds:.1f} s{tries})"


class Client:
    """One HTTP client for a whole run: shared connections, a memo of every GET, test headers.

    Every body is capped: ``body_mb`` megabytes, ``body_seconds`` after its headers. A body beyond either
    is cut and its answer says so (``Answer.unfinished``): a page that never ends costs 5 MB, not the
    machine's memory.
    """

    def __init__(
        self,
        connect: float,
        read: float,
        retry_delay: float,
        headers: dict[str, str] | None = None,
        verify: bool | str = True,
        body_mb: float = 5.0,
        body_seconds: float = 3.0,
    ):
        self.connect, self.read, self.retry_delay = connect, read, retry_delay
        self.body_bytes, self.body_seconds = int(body_mb * MEGABYTE), body_seconds
        self._client = httpx.Client(
            headers={"user-agent": USER_AGENT, **TEST_HEADER, **(headers or {})},
            timeout=httpx.Timeout(connect=connect, read=read, write=read, pool=connect),
            follow_redirects=False,
            verify=verify,
        )
        # Each GET's outcome, a Future while it is being asked: a GET another thread is asking is waited for,
        # never asked twice.
        self._memo: dict[tuple, Future[Answer | NoAnswer]] = {}
        self._memo_lock = threading.Lock()
        self._claimed: set[tuple] = set()  # memo entries a caller has been given (prefetching claims none)
        # Told of every outcome handed to a caller, and whether an earlier caller had it already.
        self.observers: list[Callable[[Answer | NoAnswer, bool], None]] = []

    @classmethod
    def with_budgets(cls, budgets, verify: bool | str = True) -> Client:
        """A client with a target's time budgets and body caps (``target.budgets``)."""
        return cls(budgets.connect, budgets.read, budgets.retry_delay, verify=verify, body_mb=budgets.body_mb,
                   body_seconds=budgets.page)

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, headers: dict[str, str] | None = None, retry: bool = True) -> Answer:
        """A GET, asked once per run: later calls with the same URL and headers get the same outcome.

        ``retry=False``: a network failure is not asked again (for a URL whose finding a retry cannot turn green)."""
        key, outcome = self._fill_memo(url, headers, retry)
        reused = key in self._claimed
        self._claimed.add(key)
        return self._hand_over(outcome, reused)

    def request(self, method: str, url: str, headers: dict[str, str] | None = None, **kwargs) -> Answer:
        """Any request, asked now (network failures retried once, see the module's doc)."""
        try:
            outcome = self._ask(method, url, headers, **kwargs)
        except NoAnswer as failure:
            outcome = failure
        return self._hand_over(outcome, reused=False)

    def _fill_memo(self, url: str, headers: dict[str, str] | None,
                   retry: bool = True) -> tuple[tuple, Answer | NoAnswer]:
        """The GET's memo key and outcome: asked now by the first caller, waited for by any other."""
        key = ("GET", url, tuple(sorted((headers or {}).items())))
        with self._memo_lock:
            first = key not in self._memo
            if first:
                self._memo[key] = Future()
            pending = self._memo[key]
        if first:
            try:
                pending.set_result(self._ask("GET", url, headers, retry=retry))
            except NoAnswer as failure:
                pending.set_result(failure)
            except BaseException as error:  # a forbidden path (ValueError) or a bug: every caller sees it
                pending.set_exception(error)
        return key, pending.result()

    def _hand_over(self, outcome: Answer | NoAnswer, reused: bool) -> Answer:
        for observer in self.observers:
            observer(outcome, reused)
        if isinstance(outcome, NoAnswer):
            raise outcome
        return outcome

    def prefetch(self, urls: list[str], wait: bool = True) -> None:
        """GET these at once, in parallel, into the memo: a hung target then costs one timeout, not one per URL.

        ``wait=False``: on a thread of its own, ahead of the checks that read the answers, each of which waits only
        for its own. Whatever goes wrong there is left: the check asks the same, from the memo, and reports it. A
        request no check reads still ends before the process does, within its timeouts."""
        unique = list(dict.fromkeys(urls))

        def fill() -> None:
            with ThreadPoolExecutor(max_workers=max(1, len(unique))) as pool:
                for _ in pool.map(lambda url: self._fill_memo(url, None), unique):
                    pass  # outcomes, failures included, wait in the memo for the check that asks

        if wait:
            fill()
        else:
            threading.Thread(target=_quietly, args=(fill,), name="care2-prefetch", daemon=True).start()

    def _ask(self, method: str, url: str, headers: dict[str, str] | None = None, retry: bool = True,
             **kwargs) -> Answer:
        if is_forbidden(url):
            raise ValueError(f"refusing {method} {url}: the suite never calls {' or '.join(FORBIDDEN_PATHS)}")
        failure: NoAnswer | None = None
        for attempt in (1, 2) if retry else (1,):
            if attempt == 2:
                time.sleep(self.retry_delay)
            try:
                answer = self._once(method, url, headers, kwargs)
                answer.attempts = attempt
                return answer
            except NoAnswer as error:
                error.attempts = attempt
                failure = error
                if error.kind not in ("refused", "reset", "connect-timeout"):
                    break
        assert failure is not None
        raise failure

    def _once(self, method: str, url: str, headers, kwargs) -> Answer:
        marks: dict[str, float] = {}
        start = time.perf_counter()

        def trace(event: str, info: dict) -> None:
            marks.setdefault(event, (time.perf_counter() - start) * 1000)

        request = self._client.build_request(method, url, headers=headers, extensions={"trace": trace}, **kwargs)
        try:
            response = self._client.send(request, stream=True)
            try:
                body, unfinished = self._read_body(response)
            finally:
                response.close()
        except httpx.HTTPError as error:
            raise _no_answer(method, url, error, time.perf_counter() - start, self) from None
        total = (time.perf_counter() - start) * 1000
        timings = Timings(
            connect_ms=_span(marks, "connection.connect_tcp"),
            tls_ms=_span(marks, "connection.start_tls"),
            first_byte_ms=marks.get("http11.receive_response_headers.complete")
            or marks.get("http2.receive_response_headers.complete"),
            total_ms=total,
        )
        return Answer(method, url, response.status_code, response.headers, body, timings, unfinished=unfinished)

    def _read_body(self, response: httpx.Response) -> tuple[bytes, str]:
        """The whole body and "", or b"" and how far it had got when a cap cut it."""
        started = time.perf_counter()
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            seconds = time.perf_counter() - started
            if len(body) > self.body_bytes or seconds > self.body_seconds:
                return b"", f"was still arriving after {duration(seconds)} and {size(len(body))}"
        return bytes(body), ""


def _quietly(work: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):
        work()


def _span(marks: dict[str, float], phase: str) -> float | None:
    started, complete = marks.get(f"{phase}.started"), marks.get(f"{phase}.complete")
    return None if started is None or complete is None else complete - started


def _no_answer(method: str, url: str, error: httpx.HTTPError, seconds: float, client: Client) -> NoAnswer:
    text = str(error) or type(error).__name__
    lowered = text.lower()
    if isinstance(error, httpx.ConnectTimeout):
        return NoAnswer(method, url, f"connect timed out after {client.connect:g} s", seconds, kind="connect-timeout")
    if isinstance(error, httpx.TimeoutException):
        reason = f"timed out after {client.read:g} s waiting for an answer"
        return NoAnswer(method, url, reason, seconds, kind="timeout")
    if "refused" in lowered or "errno 111" in lowered or "winerror 10061" in lowered:
        return NoAnswer(method, url, "connection refused (nothing listening)", seconds, kind="refused")
    if "name or service not known" in lowered or "getaddrinfo" in lowered or "nodename nor servname" in lowered:
        return NoAnswer(method, url, f"host name does not resolve ({text})", seconds, kind="dns")
    if "ssl" in lowered or "certificate" in lowered:
        return NoAnswer(method, url, f"TLS failed: {text}", seconds, kind="tls")
    if isinstance(error, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return NoAnswer(method, url, f"connection reset or closed without an answer ({text})", seconds, kind="reset")
    return NoAnswer(method, url, text, seconds)


def is_forbidden(url: str) -> bool:
    """A path the suite must never call on a real target, whatever a check or a page asks."""
    path = urlsplit(url).path
    return any(path == prefix or path.startswith(prefix + "/") for prefix in FORBIDDEN_PATHS)


def is_loopback(host: str) -> bool:
    """``host`` (a name or an address, IPv6 in brackets or not) is this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
