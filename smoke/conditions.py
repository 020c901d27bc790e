"""How a check says what broke: the condition, what was expected, what was seen, and the fix.

A check fails at its first broken condition, with a message a presenter can act on:

    API health: expected X-Care2-Origin "backend", got "frontend"
      request: GET http://localhost:3001/health/live -> 200 in 4 ms
      fix: another program holds port 3001 ...
"""

from __future__ import annotations

from typing import NoReturn

import pytest

from .probes.findings import Finding
from .probes.fixes import Fix, kept
from .probes.http import Answer, Client, NoAnswer
from .probes.pages import classify


class Check:
    """The conditions of one check, failing the test at the first that does not hold."""

    def __init__(self, http: Client, welcome_title: str = ""):
        self.http = http
        self.welcome_title = welcome_title
        self.retried: list[str] = []
        self.warnings: list[str] = []
        self.fixes: list[Fix] = []  # the red lines' fixes that are data (fixes.kept), for `care2-predemo fix`
        self.result = ""

    def fail(self, what: str, answer: Answer | None = None, fix: str = "", summary: str = "") -> NoReturn:
        """Fail the check; ``summary``, a few words of the cause, goes into the verdict's line."""
        self.result = summary
        if kept(fix):
            self.fixes.append(fix)
        lines = [what]
        if answer is not None:
            lines.append(f"  request: {answer.describe()}")
            if answer.body:
                lines.append(f"  body: {answer.excerpt()}")
        if fix:
            lines.append(f"  fix: {fix}")
        pytest.fail("\n".join(lines), pytrace=False)

    def that(self, holds: bool, what: str, expected, seen, answer: Answer | None = None, fix: str = "") -> None:
        if not holds:
            self.fail(f"{what}: expected {expected}, got {seen}", answer, fix)

    def get(self, url: str, what: str, fix: str, headers: dict[str, str] | None = None) -> Answer:
        """GET ``url``; no answer at all, or an edge/proxy error page, fails the check."""
        return self._asked(lambda: self.http.get(url, headers=headers), what, fix)

    def request(self, method: str, url: str, what: str, fix: str, **kwargs) -> Answer:
        return self._asked(lambda: self.http.request(method, url, **kwargs), what, fix)

    def _asked(self, ask, what: str, fix: str) -> Answer:
        try:
            answer = ask()
        except NoAnswer as failure:
            unanswered = failure
        else:
            unanswered = None
        if unanswered is not None:  # failing outside the except keeps the message free of a chained traceback
            self.fail(f"{what}: no answer: {unanswered}", fix=fix)
        if answer.attempts > 1:
            self.retried.append(f"{answer.method} {answer.url} answered on attempt {answer.attempts}")
        error_page = classify(answer, self.welcome_title)
        if error_page is not None:
            self.fail(f"{what}: got an error page: {error_page.describe()}", answer, error_page.fix)
        return answer

    def weigh(self, title: str, findings: list[Finding]) -> list[str]:
        """Warn of the warnings; fail with every failure among ``findings``, each with its fix; return the notes.
        The warnings come first: a check that fails still shows them."""
        for finding in findings:
            if finding.severity == "warn":
                self.warn(f"{title}: {finding.what}" + (f"; fix: {finding.fix}" if finding.fix else ""))
        failures = [finding for finding in findings if finding.severity == "fail"]
        if len(failures) == 1:
            self.fail(f"{title}: {failures[0].what}", fix=failures[0].fix)
        if failures:
            self.fixes += [finding.fix for finding in failures if kept(finding.fix)]
            lines = [f"{title}: {len(failures)} problems"]
            for finding in failures:
                lines.append(f"  - {finding.what}")
                if finding.fix:
                    lines.append(f"    fix: {finding.fix}")
            self.fail("\n".join(lines))
        return [finding.what for finding in findings if finding.severity == "note"]

    def warn(self, what: str) -> None:
        """Something that does not stop the demo but the presenter should know (GO WITH WARNINGS)."""
        self.warnings.append(what)

    def passed(self, result: str) -> None:
        """The one-line plain-language result shown for a green check."""
        self.result = result
