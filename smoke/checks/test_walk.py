"""The pre-demo checklist, last line: the demo itself, walked in Chromium as the presenter will."""

import pytest

from smoke.probes.http import NoAnswer

pytestmark = [pytest.mark.predemo, pytest.mark.browser]


def test_tell_your_story_walk(target, request, check, pytestconfig, walk_screenshots, writes_allowed):
    """(10) The walk: home, consent, recording with a microphone, submit, processing, profile."""
    refuse_endless_pages(target, check)
    from smoke.probes.fixes import Fix
    from smoke.probes.walk import StoryWalk, WalkFailed  # Playwright: only for a run that walks

    check.concerns("backend", "frontend", "proxy", "tunnel")  # an API error first: most of its blockers are one
    walk = StoryWalk(request.getfixturevalue("page"), target)  # Chromium starts only now
    see_past = not pytestconfig.getoption("first_blocker_only")
    try:
        result = walk.run(submit=writes_allowed, see_past=see_past)
    except WalkFailed as failure:
        stopped, summary, sources, judged_at = str(failure), failure.summary, failure.sources, failure.judged_at
    else:
        stopped = summary = ""
    finally:
        walk_screenshots.extend(walk.shots)
        check.timings = walk.timings
    if stopped:  # the message has the fix of each blocker; what in the app's code they come from goes with it
        check.fail(stopped, summary=summary, fix=Fix("", sources=sources), judged_at=judged_at)
    for line in walk.traffic.console_errors[:5]:
        check.warn(f"console error during the walk: {line[:200]}")
    check.passed(result)


def refuse_endless_pages(target, check) -> None:
    """A page the HTTP checks found never-ending would fill Chromium's memory: the walk does not start on it."""
    for path, what in (("/", "home page"), (target.paths.story_page, "Tell Your Story page")):
        try:
            answer = check.http.get(target.site(path))  # asked at the run's start: no new request
        except NoAnswer:
            continue  # the walk meets it and says what it saw
        if answer.unfinished:
            check.fail(f"The walk did not start: {answer.endless(f'the {what}')}", answer,
                       "make the page end (restart the frontend; check the proxy in front of it), then run again",
                       summary=f"did not start: the {what} never ends")
