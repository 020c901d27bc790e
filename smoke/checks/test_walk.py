"""The pre-demo checklist, last line: the demo itself, walked in Chromium as the presenter will."""

import pytest

from smoke.plugin import writes_allowed
from smoke.probes.walk import StoryWalk, WalkFailed

pytestmark = [pytest.mark.predemo, pytest.mark.browser]


def test_tell_your_story_walk(target, page, check, pytestconfig, walk_screenshots):
    """(10) The walk: home, consent, recording with a microphone, submit, processing, profile."""
    walk = StoryWalk(page, target)
    try:
        result = walk.run(submit=writes_allowed(pytestconfig))
    except WalkFailed as failure:
        stopped = str(failure)
    else:
        stopped = ""
    finally:
        walk_screenshots.extend(walk.shots)
    if stopped:
        check.fail(stopped)
    for line in walk.traffic.console_errors[:5]:
        check.warn(f"console error during the walk: {line[:200]}")
    check.passed(result)
