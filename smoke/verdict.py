"""GO, GO WITH WARNINGS, NO-GO or COULD NOT CHECK: the one word the presenter reads first.

Plain data in, plain data out: the report, the terminal line and the alerts all use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GO = "GO"
GO_WITH_WARNINGS = "GO WITH WARNINGS"
NO_GO = "NO-GO"
COULD_NOT_CHECK = "COULD NOT CHECK"


@dataclass
class Outcome:
    """One check's result as the presenter sees it."""

    nodeid: str
    title: str  # the check's checklist line, from its docstring
    state: str  # passed | failed | skipped | error
    result: str = ""  # one-line plain result of a green check
    message: str = ""  # cause and fix of a red one, or why it was skipped
    warnings: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)  # network retries or reruns before the pass
    seconds: float = 0.0

    @property
    def red(self) -> bool:
        return self.state in ("failed", "error")


@dataclass
class Verdict:
    state: str
    reason: str
    outcomes: list[Outcome]

    def count(self, state: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.state == state)


def decide(outcomes: list[Outcome], runner_problem: str = "") -> Verdict:
    """The verdict over all checks; a runner that cannot reach the network cannot judge production."""
    if runner_problem:
        return Verdict(COULD_NOT_CHECK, runner_problem, outcomes)
    red = [outcome for outcome in outcomes if outcome.red]
    if red:
        return Verdict(NO_GO, "; ".join(outcome.title for outcome in red), outcomes)
    if not any(outcome.state == "passed" for outcome in outcomes):
        return Verdict(COULD_NOT_CHECK, "no check ran", outcomes)
    shaky = [outcome for outcome in outcomes if outcome.warnings or outcome.retried]
    if shaky:
        return Verdict(GO_WITH_WARNINGS, "; ".join(outcome.title for outcome in shaky), outcomes)
    return Verdict(GO, "every pre-demo check passed", outcomes)
