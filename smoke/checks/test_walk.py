"""The pre-demo checklist, last line: the demo itself, walked in Chromium as the presenter will."""

import pytest

pytestmark = [pytest.mark.predemo, pytest.mark.browser]


def test_tell_your_story_walk(target, page, check, pytestconfig, walk_screenshots, writes_allowed):
    """(10) The walk: home, consent, recording with a microphone, submit, processing, profile."""
    from smoke.probes.fixes import Fix
    from smoke.probes.walk import StoryWalk, WalkFailed  # Playwright: only for a run that walks

    walk = StoryWalk(page, target)
    see_past = not pytestconfig.getoption("first_blocker_only")
    try:
        result = walk.run(submit=writes_allowed, see_past=see_past)
    except WalkFailed as failure:
        stopped, summary, sources = str(failure), failure.summary, failure.sources
    else:
        stopped = summary = ""
    finally:
        walk_screenshots.extend(walk.shots)
    if stopped:  # the message has the fix of each blocker; what in the app's code they come from goes with it
        check.fail(stopped, summary=summary, fix=Fix("", sources=sources))
    for line in walk.traffic.console_errors[:5]:
        check.warn(f"console error during the walk: {line[:200]}")
    check.passed(result)
