"""The end of the run: the verdict completed and written (verdict file, history line, copies).

smoke.verdict.decide() judges the outcomes; this adds what only the run knows: a problem of the runner
itself, a check module that did not load, a run stopped by Ctrl-C, and the checks that were red in
this target's recent runs (a warning now, even when green).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from .. import history
from ..redact import Redactor
from ..target import Target
from ..verdict import COULD_NOT_CHECK, Outcome, Verdict, from_json
from .files import ReportFiles
from .records import CheckRecord


def runner_problem(stashed: str, unloaded: list[Outcome], records: dict[str, CheckRecord], interrupted: bool) -> str:
    """Why this run cannot judge the target ("" = it can): COULD NOT CHECK rather than GO or NO-GO."""
    if stashed:
        return stashed
    if unloaded:
        return "the suite itself is broken: " + ", ".join(outcome.name for outcome in unloaded) \
            + " could not be loaded"
    if interrupted:
        done = sum(1 for record in records.values() if record.outcome.state != "not run")
        return f"the run was stopped after {done} of {len(records)} checks"
    return ""


def recall_runs(files: ReportFiles, target: Target, finished: datetime, outcomes: list[Outcome]) -> list[history.Entry]:
    """This target's earlier runs, for the report's strips; a check red in one of the last flap_window
    seconds gets a warning now."""
    settings = target.history
    now = history.Entry(finished.isoformat(timespec="seconds"), **who(target), state="")
    entries = history.read(files.folder / history.FILE_NAME)
    runs = [entry for entry in entries if entry.same_target(now)][-(settings.strip - 1):] \
        if settings.strip > 1 else []
    history.mark_flapped(outcomes, history.earlier(entries, now, settings.flap_window))
    return runs


def fallback(verdict_file: str | None, target: Target) -> dict[str, str]:
    """The fallback's run as this run's verdict tells of it ({} = no fallback was checked). A file that cannot be
    read says so: the fallback is then not known to carry the demo."""
    if not verdict_file:
        return {}
    try:
        text = Path(verdict_file).read_text(encoding="utf-8")
        checked, about = from_json(text), json.loads(text).get("about", {})
        where = f"{about['site_url']}{target.paths.story_page}"
    except (OSError, ValueError, KeyError, TypeError) as error:
        return {"environment": "", "where": "the fallback", "state": COULD_NOT_CHECK,
                "reason": f"its run wrote no readable verdict ({error})", "report": ""}
    return {"environment": str(about.get("environment", "")), "where": where, "state": checked.state,
            "reason": checked.reason, "report": str(about.get("report", ""))}


def who(target: Target) -> dict[str, str]:
    return {"environment": target.name, "site_url": target.site_url, "api_url": target.api_url}


def about(target: Target, started: datetime, seconds: float, files: ReportFiles) -> dict[str, object]:
    """Which run a verdict is of: the verdict file's ``about``."""
    return {**who(target), "kind": target.kind, "started": started.isoformat(timespec="seconds"),
            "seconds": round(seconds, 1), "report": str(files.page)}


def write_files(files: ReportFiles, redactor: Redactor, verdict: Verdict, about: dict[str, object], target: Target,
                finished: datetime) -> None:
    """Scrub the page and the JUnit file once more, write the verdict and the history line, copy the fixed names."""
    for path in (files.page, files.junit):
        if path.is_file():
            redactor.file(path)
    files.verdict.write_text(redactor.text(verdict.to_json(about)), encoding="utf-8")
    files.copy_latest()
    settings = target.history
    history.append(files.folder / history.FILE_NAME, history.Entry.of(verdict, about, finished),
                   settings.max_age, settings.max_runs, redactor.text)
