"""The Tell Your Story walk, step by step, as the presenter does it in Chromium.

Each step proves itself with what a person would see; a failed step raises ``WalkFailed`` naming
the step, what the page showed, and the request behind it (method, URL, status, body).

>>> walk = StoryWalk(page, target)          # doctest: +SKIP
>>> walk.run(submit=False)                  # doctest: +SKIP
'consent and a 2 s recording work; stopped before submitting'
"""

from __future__ import annotations

import re
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from ..target import Target
from .findings import code_line
from .http import is_forbidden
from .pages import same_words, words_pattern
from .traffic import Traffic
from .walk_diagnosis import WhatWentWrong

MIC_TOAST = "Could not access microphone"
PROFILE_PATH = re.compile(r"/profile/([^/?#]+)")
PERCENT = re.compile(r"(\d{1,3})% complete")


class WalkFailed(Exception):
    """The walk stopped; the message is what the presenter needs to know, ``summary`` the short cause."""

    def __init__(self, message: str, summary: str = "", sources: tuple[str, ...] = (), judged_at: tuple[str, ...] = ()):
        super().__init__(message)
        self.summary = summary or message.splitlines()[0]
        self.sources = sources  # what in the app's code the blocker comes from (fixes.Fix.sources)
        self.judged_at = judged_at  # the lines of this module whose condition failed (Finding.judged_at)


@dataclass(frozen=True)
class Blocker:
    """A step that failed: the failure as the presenter reads it, in short, and how the suite's browser got past
    it to look further ("" = it could not: the walk stopped there)."""

    message: str
    summary: str
    workaround: str = ""
    sources: tuple[str, ...] = ()
    judged_at: tuple[str, ...] = ()


class StoryWalk(WhatWentWrong):
    def __init__(self, page, target: Target):
        self.page, self.target = page, target
        self.traffic = Traffic.attach(page)
        self.shots: list[tuple[str, bytes]] = []
        self.blocked: list[str] = []
        self.progress: list[int] = []
        self.step_ms = target.budgets.browser_step * 1000
        page.set_default_timeout(self.step_ms)
        self.blockers: list[Blocker] = []
        # work-arounds in this browser only, each taken after the blocker it gets past was recorded
        self.drop_permissions_policy = False
        self.redirected_apis: set[str] = set()  # API origins whose requests go to the configured API instead
        self.failed_step = ""
        self.timings: dict[str, tuple[float, float]] = {}  # step -> (seconds, budget) of the last walk
        self.waited = 0.0  # seconds the running step waited on purpose (the recording), not on the site
        page.route("**/*", self._mark_as_test)

    def _mark_as_test(self, route) -> None:
        """Our traffic carries the test header; routes that can harm the target are never called; the
        work-arounds in force change what this browser sends or receives, never what the server does."""
        request = route.request
        url = request.url
        if is_forbidden(url):
            self.blocked.append(url)
            route.abort()
            return
        ours = urlsplit(url).hostname in (urlsplit(self.target.site_url).hostname,
                                          urlsplit(self.target.api_url).hostname)
        headers = {**request.headers, "x-c2c-test": "1"} if ours else None
        parts = urlsplit(url)
        moved = f"{parts.scheme}://{parts.netloc}" in self.redirected_apis
        if not moved and not (self.drop_permissions_policy and request.resource_type == "document" and ours):
            route.continue_(headers=headers)
            return
        try:
            if moved:
                to = self.target.api_origin + parts.path + (f"?{parts.query}" if parts.query else "")
                answer = route.fetch(url=to, headers={**request.headers, "x-c2c-test": "1"}, timeout=self.step_ms)
                kept = None  # its own headers
            else:
                answer = route.fetch(headers=headers, timeout=self.step_ms)
                kept = {name: value for name, value in answer.headers.items() if name.lower() != "permissions-policy"}
            # Kept before the page has it: Chromium does not keep a body it was handed once the page stops loading.
            self.traffic.fetched(request, answer.body())
            route.fulfill(response=answer, headers=kept)
        except PlaywrightError:  # no answer where the work-around sent it: the page sees a failed request
            route.abort("failed")

    def run(self, submit: bool, see_past: bool = True) -> str:
        """Walk the demo. A blocker the browser can get past by itself is recorded, worked around in this
        browser only, and the walk starts again to find what lies behind it (``see_past``); the walk then
        fails with every blocker in order, never passes."""
        while True:
            self.traffic.reset()
            try:
                result = self._walk(submit)
            except WalkFailed as failure:
                workaround = self._work_around() if see_past else ""
                self.blockers.append(Blocker(str(failure), failure.summary, workaround, failure.sources,
                                             failure.judged_at))
                if not workaround:
                    raise self._chain() from None
                continue
            if self.blockers:
                raise self._chain(f"the rest of the walk went through: {result}")
            return result

    def _chain(self, end: str = "") -> WalkFailed:
        first, behind = self.blockers[0], self.blockers[1:]
        lines = [first.message]
        if behind or end:
            lines.append("Behind it, found by working around the blockers before it, in the suite's browser only:")
        for number, blocker in enumerate(behind, 2):
            done = "; ".join(b.workaround for b in self.blockers[:number - 1])
            lines.append(f"  {number}. (after: {done}) " + blocker.message.replace("\n", "\n     "))
        if end:
            lines.append(f"  {end} (after: {'; '.join(b.workaround for b in self.blockers)})")
        summary = first.summary + (f", and {len(behind)} more behind it" if behind else "")
        sources = tuple(dict.fromkeys(source for blocker in self.blockers for source in blocker.sources))
        judged_at = tuple(dict.fromkeys(where for blocker in self.blockers for where in blocker.judged_at))
        return WalkFailed("\n".join(lines), summary, sources, judged_at)

    def _work_around(self) -> str:
        """How this browser gets past the blocker just met, by itself: "" when it cannot (a server error,
        a missing page, a page that does not work): the walk stops there."""
        if self.failed_step.startswith("3.") and not self.drop_permissions_policy and self._forbidding_policy():
            self.drop_permissions_policy = True
            # A page this browser fulfils itself has no address space of its own, so Chromium would treat its
            # calls to a loopback API as a public site's; served by the site itself they are not.
            try:
                self.page.context.grant_permissions(["local-network-access"], origin=self.target.site_origin)
            except PlaywrightError:  # a browser without that permission does not enforce it either
                pass
            return "dropped the page's Permissions-Policy header"
        others = self._other_apis()
        if others:
            self.redirected_apis |= others
            return f"sent the page's requests for {', '.join(sorted(others))} to {self.target.api_origin}"
        return ""

    def _walk(self, submit: bool) -> str:
        self.progress, self.timings = [], {}
        self.home()
        self.consent()
        seconds = self.record()
        if not submit:
            return f"home, consent and a {seconds:.0f} s recording work; stopped before submitting (no writes here)"
        self.submit_and_process()
        ticket, name = self.profile()
        return (f"home, consent, {seconds:.0f} s recording, processing {self.progress[0] if self.progress else 0}"
                f"% -> 100%, profile {name!r} for ticket {ticket}")

    @contextmanager
    def step(self, name: str, fix: str = "", budget: float | None = None):
        """One step; its time (the recording's own length left out) and budget go to ``timings``."""
        started, self.waited = time.monotonic(), 0.0
        try:
            yield
        except (AssertionError, PlaywrightError) as error:
            self._took(name, started, budget)
            self.traffic.keep_error_bodies(self.page)
            self._stop_loading()
            self.shoot(f"{name} (failed)")
            self.failed_step = name
            raise WalkFailed(self.explain(name, error, fix), self._summary(name), self._sources(name),
                             failed_condition(error)) from None
        self._took(name, started, budget)
        self.shoot(name)

    def _took(self, name: str, started: float, budget: float | None) -> None:
        seconds = time.monotonic() - started - self.waited
        self.timings[name] = (round(seconds, 3), budget or self.target.budgets.browser_step)

    def _stop_loading(self) -> None:
        """A page still loading from a hung server blocks every DOM query without a time limit."""
        try:
            self.page.context.new_cdp_session(self.page).send("Page.stopLoading")
        except PlaywrightError:  # closed, or not Chromium: nothing is loading then
            pass

    def shoot(self, caption: str) -> None:
        if self.blockers:
            caption = f"{caption}, behind blocker {len(self.blockers)}"
        try:
            self.shots.append((caption, self.page.screenshot(type="png", timeout=self.step_ms)))
        except PlaywrightError:  # the page is gone; the message still says why
            pass

    def home(self) -> None:
        expect_ = self.target.expect
        with self.step("1. Home page", "check the site: the reachability checks above say more"):
            self.page.goto(self.target.site("/"), wait_until="load")
            if self._failed_assets():
                raise AssertionError("the page's scripts or styles did not load (a blank or dead page for a person)")
            expect(self.page, f"page title {expect_.title!r}").to_have_title(expect_.title)
            self.expect_heading(expect_.home_h1)
            self.page.locator(f'a[href="{expect_.story_link}"]').first.click()
            story_url = re.compile(re.escape(expect_.story_link))
            expect(self.page, f"the demo page {expect_.story_link}").to_have_url(story_url)

    def expect_heading(self, text: str) -> None:
        """The page's first h1 reads ``text`` to a person: its words, whatever markup or line breaks lie between."""
        heading = self.page.locator("h1").first
        expect(heading, f"heading {text!r}").to_have_text(words_pattern(text), use_inner_text=True)

    def consent(self) -> None:
        expect_ = self.target.expect
        with self.step("2. Consent"):
            self.expect_heading(expect_.consent_h1)
            button = self.page.get_by_role("button", name=expect_.continue_button)
            expect(button, f"{expect_.continue_button!r} disabled before consent").to_be_disabled()
            self.page.locator("#consent").check()
            expect(button, f"{expect_.continue_button!r} enabled after consent").to_be_enabled()
            self.page.locator("#name").fill("Smoke Test")
            self.page.locator("#location").fill("Test City, TS")
            button.click()

    def record(self) -> float:
        with self.step("3. Recording", "allow the microphone: the page's Permissions-Policy must not say "
                       "microphone=()"):
            self.expect_heading("Tell Your Story")
            expect(self.page.get_by_text("Ready to record"), "status 'Ready to record'").to_be_visible()
            self.page.get_by_role("button", name="Start Recording").click()
            started = self.page.get_by_text("Recording...", exact=True).or_(self.page.get_by_text(MIC_TOAST))
            expect(started.first, "status 'Recording...'").to_be_visible()
            if self.page.get_by_text(MIC_TOAST).count():
                raise AssertionError("the page says: Could not access microphone. Please check permissions.")
            began = time.monotonic()
            self.page.wait_for_timeout(self.target.budgets.recording * 1000)
            self.waited = self.target.budgets.recording
            self.page.get_by_role("button", name="Stop").click()
            expect(self.page.get_by_text("Recording Complete ✓"), "status 'Recording Complete ✓'").to_be_visible()
            return time.monotonic() - began

    def submit_and_process(self) -> None:
        budget = self.target.budgets.processing
        with self.step("4. Submit and processing", "see the request above; the backend's logs say more", budget):
            self.page.get_by_role("button", name="Create My Profile & Documents").click()
            processing = self.page.get_by_role("heading", name="Processing Your Story")
            expect(processing.or_(self.failure_toast).first, "'Processing Your Story'").to_be_visible()
            if said := self.failure_toast.all_inner_texts():
                raise AssertionError(f"the page says: {said[0]}")
            done = self.page.get_by_text("All done!")
            deadline = time.monotonic() + budget
            while not done.is_visible():
                self._note_progress()
                if self._submit_failed() or time.monotonic() > deadline:
                    raise AssertionError(self._processing_state(budget))
                self.page.wait_for_timeout(250)
            self._note_progress()

    def profile(self) -> tuple[str, str]:
        with self.step("5. Profile page", "the profile cannot be shown: check /api/tickets on the backend"):
            self.page.wait_for_url(PROFILE_PATH)
            ticket = PROFILE_PATH.search(self.page.url).group(1)
            support = self.page.get_by_role("heading", name="Support This Profile")
            expect(support, "heading 'Support This Profile'").to_be_visible()
            name = self.page.locator("h1").first.inner_text().strip()
            if not any(same_words(expected, name) for expected in ("Smoke Test", "Anonymous Profile")):
                raise AssertionError(f"profile heading is {name!r}, expected 'Smoke Test' or 'Anonymous Profile'")
            if self.page.get_by_text("Profile not found").count():
                raise AssertionError(f"the page says 'Profile not found' for ticket {ticket}")
        return ticket, name

    def _note_progress(self) -> None:
        # all_inner_texts() does not wait: the overlay may vanish at any moment (failure, redirect)
        for text in self.page.get_by_text(PERCENT).all_inner_texts():
            found = PERCENT.search(text)
            if found and (not self.progress or int(found.group(1)) != self.progress[-1]):
                self.progress.append(int(found.group(1)))

    @property
    def failure_toast(self):
        return self.page.get_by_text(re.compile(r"(Failed to process your story|Processing failed)"))

    def _submit_failed(self) -> bool:
        return bool(self.failure_toast.count())

    def _processing_state(self, budget: float) -> str:
        last = self.traffic.last_answered("/status")
        body = last.json() if last else None
        if isinstance(body, dict):
            seen = f"last status {body.get('status')!r} at {body.get('progress')}%"
        else:
            seen = "no status answer seen"
        if self._submit_failed():
            return f"the page reports a failure ({seen})"
        return f"processing stuck: {seen}; waited {budget:g} s for 'All done!' (progress seen: {self.progress})"


def failed_condition(error: BaseException) -> tuple[str]:
    """The line of a step in this module whose condition failed: the deepest of this module's frames that
    ``error`` went through."""
    here = failed_condition.__code__.co_filename
    ours = [(frame, line) for frame, line in traceback.walk_tb(error.__traceback__) if frame.f_code.co_filename == here]
    return (code_line(*ours[-1]),)
