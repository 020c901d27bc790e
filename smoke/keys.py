"""The run's shared state in pytest's stash: the keys smoke.plugin and smoke.report both use.

A low module of names only, so that neither of the two needs to import the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from .target import Target
    from .verdict import Verdict

TARGET_KEY: pytest.StashKey[Target] = pytest.StashKey()
HTTP_OBSERVERS_KEY = pytest.StashKey[list]()  # callables told of each answer the run's `http` client hands out
SCREENSHOTS_KEY = pytest.StashKey[list]()  # a check's (caption, image) pairs, for its row in the report
TRACES_KEY = pytest.StashKey[list]()  # a check's kept Playwright traces, for its row in the report
FIXES_KEY = pytest.StashKey[list]()  # the fixes of a red check that a command (or a wait) can do: probes.fixes.Fix
# Why this machine could not judge the target ("" = it could): asked before the first check and again
# at the end when a check failed. The report passes it to verdict.decide(): COULD NOT CHECK, no alert.
RUNNER_PROBLEM_KEY = pytest.StashKey[str]()
VERDICT_KEY: pytest.StashKey[Verdict] = pytest.StashKey()  # the run's verdict, from pytest_sessionfinish on
# The demo host's facts for a NO-GO's incident bundle (file name -> text), gathered when called; smoke.plugin sets
# it where host checks apply, the report writes the bundle.
INCIDENT_KEY: pytest.StashKey[Callable[[], dict[str, str]]] = pytest.StashKey()
