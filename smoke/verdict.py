"""GO, GO WITH WARNINGS, NO-GO or COULD NOT CHECK: the one word the presenter reads first.

Plain data in, plain data out: the report, the terminal line and the alerts all use it.

>>> verdict = decide([Outcome("t::a", "API health: alive", "passed", name="API health"),
...                   Outcome("t::b", "Database: connected", "failed", name="Database")])
>>> verdict.headline()
'NO-GO: failed: Database'
>>> verdict.tally()
'1 failed, 1 passed'
>>> from_json(verdict.to_json({"environment": "local"})).state
'NO-GO'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields

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
    result: str = ""  # one-line plain result of a green check; of a red one, its cause in a few words, if given
    message: str = ""  # cause and fix of a red one, or why it was skipped
    warnings: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)  # network retries or reruns before the pass
    seconds: float = 0.0
    step: int = 0  # its line number in the checklist; 0 = not on the checklist
    name: str = ""  # the checklist line's short name ("API health")
    fixes: list[dict] = field(default_factory=list)  # a red one's fixes a command can do (probes.fixes.Fix.data)
    # a red one's lines of the suite's code that judged it ('smoke/probes/under_pm2.py:112 (judge_app)')
    judged_at: list[str] = field(default_factory=list)
    # what -> (seconds, budget or None): its main request's time, or the walk's steps (the run history keeps them)
    timings: dict[str, tuple[float, float | None]] = field(default_factory=dict)

    @property
    def red(self) -> bool:
        return self.state in ("failed", "error")

    @property
    def shaky(self) -> bool:
        """Passed, but with something the presenter should know (GO WITH WARNINGS)."""
        return self.state == "passed" and bool(self.warnings or self.retried)

    @property
    def label(self) -> str:
        return self.name or self.title


@dataclass
class Verdict:
    state: str
    reason: str
    outcomes: list[Outcome]
    # the fallback checked beside this target in the same `care2-predemo --fallback` (the local site on the demo
    # host): its environment, page URL (`where`), state and reason; {} = none was
    fallback: dict[str, str] = field(default_factory=dict)

    def count(self, state: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.state == state)

    def tally(self) -> str:
        """'2 failed, 7 passed (1 with warnings), 1 skipped': the counts that are not zero."""
        red = self.count("failed") + self.count("error")
        shaky = sum(1 for outcome in self.outcomes if outcome.shaky)
        passed = f"{self.count('passed')} passed" + (f" ({shaky} with warnings)" if shaky else "")
        parts = [f"{red} failed" if red else "", passed if self.count("passed") else "",
                 f"{self.count('skipped')} skipped" if self.count("skipped") else ""]
        return ", ".join(part for part in parts if part) or "no checks"

    def headline(self, counts: str = "") -> str:
        """The verdict and its reason (and ``counts``) on one line, as the terminal ends and an alert begins; with a
        fallback, whether the demo can be presented from there."""
        said = f"{self.state}: {self.reason}" + (f" ({counts})" if counts else "")
        return said + (f". {self.fallback_says()}" if self.fallback else "")

    def fallback_says(self) -> str:
        """'Fallback http://localhost:3000/tell-your-story: GO — present from there', or why it will not do either."""
        fallback = self.fallback
        carries = fallback["state"] in (GO, GO_WITH_WARNINGS)
        said = f"Fallback {fallback['where']}: {fallback['state']}"
        if carries:
            return said + (" — present from there" if self.state not in (GO, GO_WITH_WARNINGS) else "")
        return f"{said} ({fallback['reason']})" + (" — neither will carry the demo" if self.state == NO_GO else "")

    def to_json(self, about: Mapping[str, object] | None = None) -> str:
        """The verdict file (reports/verdict.json); ``about`` says which run: environment, report, times."""
        return json.dumps({**asdict(self), "about": dict(about or {})}, indent=2, ensure_ascii=False) + "\n"


def from_json(text: str) -> Verdict:
    """A verdict file back as a Verdict; keys this version does not know are ignored."""
    data = json.loads(text)
    known = {each.name for each in fields(Outcome)}
    outcomes = [Outcome(**{key: value for key, value in entry.items() if key in known}) for entry in data["outcomes"]]
    return Verdict(data["state"], data["reason"], outcomes, data.get("fallback") or {})


def decide(outcomes: list[Outcome], runner_problem: str = "") -> Verdict:
    """The verdict over all checks; a runner that cannot reach the network cannot judge production."""
    if runner_problem:
        return Verdict(COULD_NOT_CHECK, runner_problem, outcomes)
    red = [outcome for outcome in outcomes if outcome.red]
    if red:
        return Verdict(NO_GO, "failed: " + names(red), outcomes)
    if not any(outcome.state == "passed" for outcome in outcomes):
        return Verdict(COULD_NOT_CHECK, "no check ran", outcomes)
    shaky = [outcome for outcome in outcomes if outcome.shaky]
    if shaky:
        return Verdict(GO_WITH_WARNINGS, "passed, but look at: " + names(shaky), outcomes)
    return Verdict(GO, "every pre-demo check passed", outcomes)


def names(outcomes: list[Outcome]) -> str:
    """The checklist lines, once each; a red one with its cause in a few words where it gave one."""
    return ", ".join(dict.fromkeys(
        f"{outcome.label}: {outcome.result}" if outcome.red and outcome.result else outcome.label
        for outcome in outcomes
    ))
