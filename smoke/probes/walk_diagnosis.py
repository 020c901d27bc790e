"""What the Tell Your Story walk saw when a step failed, in the presenter's words: the step, what the page shows,
the requests behind it (the page's API calls, CORS, static assets, the microphone's Permissions-Policy), the cause
in a few words and where in the app's source to look. StoryWalk (walk.py) walks; this reads what it saw.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError

from . import fixes

API_PATHS = ("/api/story", "/api/tickets")


class WhatWentWrong:
    """The diagnosis of a StoryWalk (its page, target, traffic and the APIs its work-around redirected)."""

    def _forbidding_policy(self) -> str:
        policy = self.traffic.document_headers.get("permissions-policy", "")
        return policy if re.search(r"microphone=\(\s*\)", policy) else ""

    def _other_apis(self) -> set[str]:
        """Origins of the page's API calls that are not the configured API (and not already sent there)."""
        found = set()
        for call in self._api_calls():
            parts = urlsplit(call.url)
            if not call.url.startswith(self.target.api_origin):
                found.add(f"{parts.scheme}://{parts.netloc}")
        return found - self.redirected_apis

    def _api_calls(self):
        return [e for e in self.traffic.exchanges if any(p in e.url for p in API_PATHS)]

    def _summary(self, step: str) -> str:
        """The blocker in a few words, for the verdict's line."""
        if step.startswith("3.") and self._forbidding_policy():
            return "microphone blocked by the page's Permissions-Policy"
        if others := self._other_apis():
            return f"the page calls {', '.join(sorted(others))}, not the configured API"
        failed = [call for call in self._api_calls() if call.status is None or call.status >= 400]
        if failed:
            call = failed[0]
            return f"{call.method} {urlsplit(call.url).path} -> {call.status or 'no answer'}"
        return f"stopped at step {step!r}"

    def _sources(self, step: str) -> tuple[str, ...]:
        """What to look for in the app's source: the header value that forbids the microphone, the API base the
        page's code holds, the path of an API call the backend failed (its route)."""
        found = []
        if step.startswith("3.") and self._forbidding_policy():
            found.append("microphone=()")
        found += sorted(self._other_apis())
        found += [urlsplit(call.url).path for call in self._api_calls() if call.status and call.status >= 500]
        return tuple(dict.fromkeys(found))

    def explain(self, step: str, error: Exception, fix: str) -> str:
        """The failed step, what the page shows, and the requests behind it."""
        lines = [f"The walk failed at step {step!r}: {_first_line(error)}"]
        shown = self._page_says()
        if shown:
            lines.append(f"  page shows: {shown}")
        lines += [f"  {line}" for line in self._diagnosis()]
        if self._other_apis():  # the request went where the page's code sent it: the code is what to fix
            fix = fixes.api_base(self.target.api_url)
        if fix:
            lines.append(f"  fix: {fix}")
        return "\n".join(lines)

    def _failed_assets(self) -> list[str]:
        failed = [a.describe() for a in self.traffic.calls("/_next/static/") if a.status is None or a.status >= 400]
        return list(dict.fromkeys(failed))

    def _page_says(self) -> str:
        try:
            notes = self.page.locator("[role=status], [role=alert], [aria-live] > *").all_inner_texts()
        except PlaywrightError:
            return ""
        # a toast can match twice (its own role and its live region's): each text once
        return " | ".join(dict.fromkeys(" ".join(note.split()) for note in notes if note.strip()))

    def _diagnosis(self) -> list[str]:
        target, lines = self.target, []
        api_calls = self._api_calls()
        for call in api_calls:
            if urlsplit(call.url)._replace(path="", query="").geturl() in self._other_apis():
                lines.append(f"the page called {call.url} but the configured API is {target.api_url} "
                             f"(port {target.ports.backend})")
                break
        cors = [text for text in self.traffic.console_errors if "CORS" in text]
        if cors:
            lines.append(f"CORS refused for origin {target.site_origin}: {cors[0][:300]} "
                         f"(fix: add {target.site_origin} to the backend's CORS allow-list)")
        for call in api_calls:
            if call.status is None or call.status >= 400:
                moved = urlsplit(call.url)._replace(path="", query="").geturl() in self.redirected_apis
                lines.append(f"request: {call.describe()}"
                             + (f" (sent to {target.api_origin} by the work-around)" if moved else ""))
        lines += [f"static asset failed: {line}" for line in self._failed_assets()]
        if policy := self._forbidding_policy():
            lines.append(f"microphone blocked by Permissions-Policy: {policy} "
                         "(fix: allow microphone=(self) in the frontend's headers)")
        if self.blocked:
            lines.append(f"blocked on purpose (never called): {', '.join(self.blocked)}")
        if self.traffic.console_errors:
            lines.append(f"console errors: {' | '.join(e[:200] for e in self.traffic.console_errors[:5])}")
        return lines


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
