"""How a check says what broke: the condition, what was expected, what was seen, and the fix.

A check fails at its first broken condition, with a message a presenter can act on:

    API health: expected X-Care2-Origin "backend", got "frontend"
      request: GET http://localhost:3001/health/live -> 200 in 4 ms
      fix: another program holds port 3001 ...
      evidence: backend log (careconnect-backend-prod, 17:12:49): Error ... at src/routes/story.ts:39

On the demo host, the lines after the fix are the host's evidence about the roles the check concerns
(``concerns()``; smoke/evidence.py).

A check made of independent parts (``with check.part():``) ends a part at its first broken condition and goes
on with the next; ``report_findings`` then reports every part's problem (and the evidence once, after them).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

from .evidence import Evidence
from .probes.findings import Finding, code_line
from .probes.fixes import Fix, kept
from .probes.http import Answer, Client, NoAnswer
from .probes.pages import ErrorPage, classify


class BrokenPart(Exception):
    """A condition of a part of a check does not hold (see Check.part)."""

    def __init__(self, finding: Finding):
        super().__init__(finding.what)
        self.finding = finding


class Check:
    """The conditions of one check, failing the test at the first that does not hold."""

    def __init__(self, http: Client, welcome_title: str = "", evidence: Evidence | None = None,
                 behind: Callable[[str], str] | None = None):
        """``behind(url)``: where on this host the path to ``url`` breaks (the path check), told with an edge's or
        proxy's error page; None where the app's host is not this one."""
        self.http = http
        self.welcome_title = welcome_title
        self.evidence = evidence or Evidence()
        self.roles: tuple[str, ...] = ()
        self.behind = behind
        self.retried: list[str] = []
        self.warnings: list[str] = []
        self.fixes: list[Fix] = []  # the red lines' fixes that are data (fixes.kept), for `care2-predemo fix`
        self.result = ""
        # what -> (seconds, budget or None): the check's main request, or the walk's steps (the history's chart)
        self.timings: dict[str, tuple[float, float | None]] = {}
        self.broken: list[Finding] = []  # the problems of the parts that ended (see part)
        self.judged_at: list[str] = []  # the lines of the suite's code that judged its red line (Finding.judged_at)
        self._parts = 0  # how deep in part() the check is

    def concerns(self, *roles: str) -> None:
        """The Care2 roles (frontend, backend, tunnel, proxy) whose evidence explains this check's red line."""
        self.roles = roles

    @contextlib.contextmanager
    def part(self) -> Iterator[None]:
        """A part of the check that does not hang on the others: its first broken condition ends this part only,
        and ``report_findings`` reports it with the other parts' problems."""
        self._parts += 1
        try:
            yield
        except BrokenPart as broken:
            self.broken.append(broken.finding)
        finally:
            self._parts -= 1

    def fail(self, what: str, answer: Answer | None = None, fix: str = "", summary: str = "",
             judged_at: Sequence[str] = ()) -> NoReturn:
        """Fail the check (within a part: that part); ``summary``, a few words of the cause, goes into the verdict's
        line. ``judged_at``: the findings' lines of code that judged it; by default the line that called the check."""
        self.result = summary
        judged_at = list(dict.fromkeys(judged_at)) or [_caller_outside_this_module()]
        self.keep(fix)
        lines = [what]
        if answer is not None:
            lines.append(f"  request: {answer.describe()}")
            if answer.body:
                lines.append(f"  body: {answer.excerpt()}")
        if self._parts:  # the part's problem waits for report_findings, which adds the evidence once after every part's
            raise BrokenPart(Finding("fail", "\n".join(lines), fix, judged_at[0]))
        if fix:
            lines.append(f"  fix: {fix}")
        lines += [f"  evidence: {line}" for line in self.evidence.lines(self.roles)]
        self.judged_at = judged_at
        pytest.fail("\n".join(lines), pytrace=False)

    def keep(self, fix: str) -> None:
        """Keep a red line's fix for `care2-predemo fix` when it is data (a part's is kept once, as it breaks)."""
        if kept(fix) and fix not in self.fixes:
            self.fixes.append(fix)

    def that(self, holds: bool, what: str, expected, seen, answer: Answer | None = None, fix: str = "") -> None:
        if not holds:
            self.fail(f"{what}: expected {expected}, got {seen}", answer, fix)

    def get(self, url: str, what: str, fix: str, headers: dict[str, str] | None = None,
            budget: float | None = None) -> Answer:
        """GET ``url``; no answer at all, or an edge/proxy error page, fails the check. A ``budget`` (seconds)
        makes this the check's main request, the one whose time the run history keeps (else its first)."""
        return self._asked(lambda: self.http.get(url, headers=headers), what, fix, budget)

    def request(self, method: str, url: str, what: str, fix: str, **kwargs) -> Answer:
        return self._asked(lambda: self.http.request(method, url, **kwargs), what, fix)

    def _asked(self, ask, what: str, fix: str, budget: float | None = None) -> Answer:
        try:
            answer = ask()
        except NoAnswer as failure:
            unanswered = failure
        else:
            unanswered = None
        if unanswered is not None:  # failing outside the except keeps the message free of a chained traceback
            self.fail(f"{what}: no answer: {unanswered}", fix=fix)
        if budget is not None or not self.timings:
            self.timings = {f"{answer.method} {urlsplit(answer.url).path}": (round(answer.seconds, 3), budget)}
        if answer.attempts > 1:
            self.retried.append(f"{answer.method} {answer.url} answered on attempt {answer.attempts}")
        self.whole(answer, what)
        error_page = classify(answer, self.welcome_title)
        if error_page is not None:
            self.fail(f"{what}: got an error page: {self.error_page(error_page, answer.url)}", answer, error_page.fix,
                      judged_at=[_caller_outside_this_module(), error_page.judged_at])
        return answer

    def whole(self, answer: Answer, what: str) -> None:
        """Fail when ``answer``'s body never ended (cut at the run's caps): nothing in it can be judged."""
        if answer.unfinished:
            where = urlsplit(answer.url).netloc
            self.fail(answer.endless(what), answer,
                      f"find what sends it without end: the app that serves {where} (its log; restart it), or a "
                      "proxy or tunnel in front of it (ask the app's own port to tell which); if a real answer is "
                      "that large or slow, raise budgets.body_mb or budgets.page in the environments file")

    def error_page(self, page: ErrorPage, url: str) -> str:
        """The error page described; for an edge's or proxy's, where on this host the path to ``url`` breaks."""
        where = self.behind(url) if self.behind is not None and page.on_the_way else ""
        return page.describe() + (f"; {where}" if where else "")

    def report_findings(self, title: str, findings: list[Finding]) -> list[str]:
        """Warn of the warnings; fail with every failure among ``findings``, and outside a part every broken part's
        problem too, each with its fix; return the notes. The warnings come first: a check that fails still shows
        them."""
        for finding in findings:
            if finding.severity == "warn":
                self.warn(f"{title}: {finding.what}" + (f"; fix: {finding.fix}" if finding.fix else ""))
        failures = [finding for finding in findings if finding.severity == "fail"]
        broken, self.broken = (self.broken, []) if not self._parts else ([], self.broken)  # they carry their own words
        if len(broken) + len(failures) == 1:
            only = (broken or failures)[0]
            self.fail(only.what if broken else f"{title}: {only.what}", fix=only.fix, judged_at=[only.judged_at])
        if broken or failures:
            for finding in failures:
                self.keep(finding.fix)
            lines = [f"{title}: {len(broken) + len(failures)} problems"]
            for finding in [*broken, *failures]:
                lines.append("  - " + finding.what.replace("\n", "\n  "))
                if finding.fix:
                    lines.append(f"    fix: {finding.fix}")
            self.fail("\n".join(lines), judged_at=[finding.judged_at for finding in [*broken, *failures]])
        return [finding.what for finding in findings if finding.severity == "note"]

    def warn(self, what: str) -> None:
        """Something that does not stop the demo but the presenter should know (GO WITH WARNINGS)."""
        self.warnings.append(what)

    def passed(self, result: str) -> None:
        """The one-line plain-language result shown for a green check."""
        self.result = result


def _caller_outside_this_module() -> str:
    """The line of a check (or of any code but this module) that asked for what failed."""
    frame, here = sys._getframe(1), _caller_outside_this_module.__code__.co_filename
    while frame.f_code.co_filename == here and frame.f_back is not None:
        frame = frame.f_back
    return code_line(frame)
